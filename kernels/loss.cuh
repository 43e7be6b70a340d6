// Launchers of the loss kernels: in one launch, the output layer's bias add, each sample's loss,
// the gradient, the output layer's bias gradient and the batch's metrics.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "nn/metric_sums.hpp"

namespace mlptune::kernels {

// What a loss launch writes besides adding the bias. Null pointers are not written.
struct LossOutputs {
  float* sample_loss = nullptr;  // (B): required
  float* grad = nullptr;         // (B, C): ∂(batch-mean loss)/∂logits; null in evaluation
  float* bias_grad = nullptr;    // (C): Σ_rows grad, the output layer's bias gradient (needs grad)
  // metrics += (Σ sample_loss in double, Σ correct when count_correct, B samples), summed in a fixed
  // order. When a loss is NaN or ±Inf and metrics->nonfinite is still 0, sets it and records
  // first_nonfinite_step = *step_counter + 1 (when step_counter is not null), as
  // ref::accumulate_metrics.
  MetricSums* metrics = nullptr;
  const std::int64_t* step_counter = nullptr;
  // Classification: a sample is correct where the first index of its row maximum equals its label
  // (as ref::count_correct).
  bool count_correct = false;
};

// Softmax cross-entropy on logits (B, C) with labels (B). First logits += bias (C) in place, when
// bias is not null (the output layer's bias add, so predictions read them after). Then
// sample_loss (B) = -log softmax[label]; grad (B, C) = (softmax - onehot) / B; bias_grad (C) =
// Σ_rows grad. A label outside [0, C) gives a NaN loss (the divergence check then stops the trial).
// One block: the batch's rows are shared among its warps and every sum has a fixed order.
void softmax_cross_entropy(float* logits, const float* bias, const std::int32_t* labels, LossOutputs outputs, int batch,
                           int classes, cudaStream_t stream);

// Mean squared error on pred (B, K) vs target (B, K), pred += bias first as above:
// sample_loss (B) = mean_k (p - t)²; grad (B, K) = 2 (p - t) / (B·K); bias_grad (K) = Σ_rows grad.
void mean_squared_error(float* pred, const float* bias, const float* target, LossOutputs outputs, int batch, int width,
                        cudaStream_t stream);

}  // namespace mlptune::kernels
