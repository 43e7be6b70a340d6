// Launcher of the column-sum kernel that gives a layer's bias gradient.
#pragma once

#include <cuda_runtime.h>

namespace mlptune::kernels {

// bias_grad (N) = Σ_rows grad (B, N). Deterministic: a fixed summation order.
void bias_gradient(const float* grad, float* bias_grad, int batch, int width, cudaStream_t stream);

}  // namespace mlptune::kernels
