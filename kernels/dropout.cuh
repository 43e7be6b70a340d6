// Launchers of inverted dropout after a hidden activation: the keep mask of rng::dropout_keeps
// from the trial's seed, its steps taken and the layer, so the CPU reference draws the same one.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/device_trial.hpp"

namespace mlptune::kernels {

// out (n) = x / (1 - trial->dropout) where the mask of hidden layer `layer` at step trial->step
// keeps the element, else 0 (as ref::dropout_forward). `out` may alias `x`. Nothing to do at rate 0.
void dropout_forward(const cuda::DeviceTrial* trial, int layer, const float* x, float* out, std::size_t count,
                     cudaStream_t stream);

// grad_x (n) = grad_out / (1 - trial->dropout) where the same mask kept the element, else 0
// (as ref::dropout_backward). May alias.
void dropout_backward(const cuda::DeviceTrial* trial, int layer, const float* grad_out, float* grad_x,
                      std::size_t count, cudaStream_t stream);

}  // namespace mlptune::kernels
