// Launchers of the fused bias + activation forward kernel and the fused activation backward + bias
// gradient kernel.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/device_trial.hpp"
#include "mlptune/model.hpp"

namespace mlptune::kernels {

// Inverted dropout after hidden layer `layer`'s activation, in the same kernel: the keep mask of
// rng::dropout_keeps from trial->seed, trial->step and the layer, element e = row·N + column (as
// ref::dropout_forward and ref::dropout_backward draw it), kept values times 1 / (1 - rate). No
// trial: no dropout.
struct DropoutMask {
  const cuda::DeviceTrial* trial = nullptr;
  int layer = 0;
};

// In place on pre (B, N): pre = z + bias (broadcast over rows), where pre holds z (the matrix
// product) on entry; then out (B, N) = f(pre), dropped out by `dropout`. `out` may be null (the
// output layer keeps pre only; no dropout then).
void bias_activation_forward(Activation activation, float* pre, const float* bias, float* out, int batch, int width,
                             cudaStream_t stream, DropoutMask dropout = {});

// In place on grad (B, N): grad = grad · f'(pre), where grad holds ∂L/∂out on entry (∂L/∂(dropped
// out), gated by the same `dropout` mask first) and ∂L/∂pre after; then bias_grad (N) = Σ_rows grad,
// the layer's bias gradient (as ref::bias_gradient), in a fixed summation order.
void activation_bias_gradient(Activation activation, const float* pre, float* grad, float* bias_grad, int batch,
                              int width, cudaStream_t stream, DropoutMask dropout = {});

}  // namespace mlptune::kernels
