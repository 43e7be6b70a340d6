// Launchers of the loss kernels: per-sample loss and its gradient in one pass.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace mlptune::kernels {

// Softmax cross-entropy on logits (B, C) with labels (B): sample_loss (B) = -log softmax[label];
// grad (B, C) = (softmax - onehot) / B (skipped when grad is null, as in evaluation).
// A label outside [0, C) gives a NaN loss (the divergence check then stops the trial).
void softmax_cross_entropy(const float* logits, const std::int32_t* labels, float* sample_loss, float* grad, int batch,
                           int classes, cudaStream_t stream);

// Mean squared error on pred (B, K) vs target (B, K): sample_loss (B) = mean_k (p - t)²;
// grad (B, K) = 2 (p - t) / (B·K) (skipped when grad is null).
void mean_squared_error(const float* pred, const float* target, float* sample_loss, float* grad, int batch, int width,
                        cudaStream_t stream);

}  // namespace mlptune::kernels
