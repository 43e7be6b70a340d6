// Launchers of the fused bias + activation forward kernel and the fused activation backward + bias
// gradient kernel.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "mlptune/model.hpp"

namespace mlptune::kernels {

// In place on pre (B, N): pre = z + bias (broadcast over rows), where pre holds z (the matrix
// product) on entry; then out (B, N) = f(pre). `out` may be null (the output layer keeps pre only).
void bias_activation_forward(Activation activation, float* pre, const float* bias, float* out, int batch, int width,
                             cudaStream_t stream);

// In place on grad (B, N): grad = grad · f'(pre), where grad holds ∂L/∂out on entry and ∂L/∂pre
// after; then bias_grad (N) = Σ_rows grad, the layer's bias gradient (as ref::bias_gradient), in a
// fixed summation order.
void activation_bias_gradient(Activation activation, const float* pre, float* grad, float* bias_grad, int batch,
                              int width, cudaStream_t stream);

}  // namespace mlptune::kernels
