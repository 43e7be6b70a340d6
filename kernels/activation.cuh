// Launchers of the fused bias + activation forward kernel and the activation backward kernel.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "mlptune/model.hpp"

namespace mlptune::kernels {

// In place on pre (B, N): pre = z + bias (broadcast over rows), where pre holds z (the matrix
// product) on entry; then out (B, N) = f(pre). `out` may be null (the output layer keeps pre only).
void bias_activation_forward(Activation activation, float* pre, const float* bias, float* out, int batch, int width,
                             cudaStream_t stream);

// In place on grad (n): grad = grad · f'(pre), where grad holds ∂L/∂out on entry and ∂L/∂pre after.
void activation_backward(Activation activation, const float* pre, float* grad, std::size_t count, cudaStream_t stream);

}  // namespace mlptune::kernels
