// Parameter initialisation on the device from the counter-based RNG shared with the CPU backend.
#include <cmath>

#include "common/counter_rng.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/launch_config.hpp"
#include "init.cuh"
#include "mlptune/error.hpp"

namespace mlptune::kernels {
namespace {

// weight (count = out·in): element j from the layer's streams; `scale` is sqrt(2/in) (he) or the
// xavier limit, computed once on the host in double and rounded to float.
static __global__ void initialize_weights_kernel(float* __restrict__ weight, std::size_t count, std::uint64_t seed,
                                                 std::uint64_t stream_a, std::uint64_t stream_b, float scale, bool he) {
  for (std::size_t j = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; j < count;
       j += std::size_t(gridDim.x) * blockDim.x) {
    const std::uint64_t bits_a = rng::hash(seed, stream_a, j);
    weight[j] =
        he ? scale * rng::normal(bits_a, rng::hash(seed, stream_b, j)) : scale * (2.0f * rng::uniform01(bits_a) - 1.0f);
  }
}

}  // namespace

void initialize_weights(Init init, std::uint64_t seed, int layer, int in, int out, float* weight, cudaStream_t stream) {
  const std::size_t count = std::size_t(in) * std::size_t(out);
  if (count == 0) return;
  bool he = false;
  float scale = 0.0f;
  switch (init) {
    case Init::he:
      he = true;
      scale = float(std::sqrt(2.0 / double(in)));
      break;
    case Init::xavier:
      scale = float(std::sqrt(6.0 / (double(in) + double(out))));
      break;
    default:
      throw ConfigError("initialize_weights: unknown initialisation");
  }
  const std::uint64_t stream_a = rng::kInitStream + 2 * std::uint64_t(layer);
  initialize_weights_kernel<<<cuda::grid_stride_blocks(count), cuda::kBlockSize, 0, stream>>>(
      weight, count, seed, stream_a, stream_a + 1, scale, he);
  MLPTUNE_CUDA_CHECK_LAUNCH(initialize_weights_kernel);
}

}  // namespace mlptune::kernels
