// Launcher of gradient clipping by the global L2 norm (torch.nn.utils.clip_grad_norm_), reading
// the limit from the trial's device record so a captured graph needs no host value.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/device_trial.hpp"

namespace mlptune::kernels {

// Blocks of the first pass: `partials` must hold this many doubles.
inline constexpr int kGradientNormBlocks = 256;

// gradients (n), every gradient of the step in one block: trial->gradient_squares = Σ g² (summed in
// double in a fixed order, so the same inputs give the same bits), then every gradient is
// multiplied by max_norm / (norm + 1e-6) when that is below 1, max_norm = trial->clip_norm (as
// ref::clip_gradient_norm). Nothing happens when trial->clip_norm is 0.
void clip_gradient_norm(cuda::DeviceTrial* trial, float* gradients, std::size_t count, double* partials,
                        cudaStream_t stream);

}  // namespace mlptune::kernels
