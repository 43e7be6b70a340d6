// Launcher of parameter initialisation from the seed (its CPU twin: ref::initialize_weights).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "mlptune/model.hpp"

namespace mlptune::kernels {

// weight (out, in) of layer `layer`, element j = row·in + col:
//   he:     sqrt(2 / in) · rng::normal(hash(seed, kInitStream + 2·layer, j), hash(seed, kInitStream + 2·layer + 1, j))
//   xavier: sqrt(6 / (in + out)) · (2 · rng::uniform01(hash(seed, kInitStream + 2·layer, j)) - 1)
// Biases are zero and are not written here.
void initialize_weights(Init init, std::uint64_t seed, int layer, int in, int out, float* weight, cudaStream_t stream);

}  // namespace mlptune::kernels
