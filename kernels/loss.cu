// Softmax cross-entropy and mean squared error: one warp per sample computes its loss and gradient.
#include <cmath>

#include "cuda/cuda_check.hpp"
#include "cuda/launch_config.hpp"
#include "loss.cuh"

namespace mlptune::kernels {
namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = cuda::kBlockSize / kWarp;  // one warp per sample

__device__ __forceinline__ float warp_sum(float value) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

__device__ __forceinline__ float warp_max(float value) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}

// Warp w of block b handles sample r = b·8 + w. logits (B, C) → sample_loss (B), grad (B, C).
static __global__ void softmax_cross_entropy_kernel(const float* __restrict__ logits,
                                                    const std::int32_t* __restrict__ labels,
                                                    float* __restrict__ sample_loss, float* __restrict__ grad,
                                                    int batch, int classes) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= batch) return;  // whole warps leave together: the shuffles below see full warps
  const float* z = logits + std::size_t(row) * classes;
  float row_max = -INFINITY;
  for (int c = lane; c < classes; c += kWarp) row_max = fmaxf(row_max, z[c]);
  row_max = warp_max(row_max);
  float exp_sum = 0.0f;
  for (int c = lane; c < classes; c += kWarp) exp_sum += expf(z[c] - row_max);
  exp_sum = warp_sum(exp_sum);
  const int label = labels[row];
  const bool label_ok = label >= 0 && label < classes;
  if (lane == 0) sample_loss[row] = label_ok ? logf(exp_sum) - (z[label] - row_max) : NAN;
  if (grad == nullptr) return;
  const float inverse_sum = 1.0f / exp_sum;
  const float batch_f = float(batch);
  float* g = grad + std::size_t(row) * classes;
  for (int c = lane; c < classes; c += kWarp) {
    const float softmax = expf(z[c] - row_max) * inverse_sum;
    g[c] = (softmax - (c == label ? 1.0f : 0.0f)) / batch_f;
  }
}

// Warp per sample. pred, target (B, K) → sample_loss (B), grad (B, K).
static __global__ void mean_squared_error_kernel(const float* __restrict__ pred, const float* __restrict__ target,
                                                 float* __restrict__ sample_loss, float* __restrict__ grad, int batch,
                                                 int width) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= batch) return;
  const std::size_t base = std::size_t(row) * width;
  const float grad_scale = 2.0f / (float(batch) * float(width));
  float squares = 0.0f;
  for (int k = lane; k < width; k += kWarp) {
    const float diff = pred[base + k] - target[base + k];
    squares += diff * diff;
    if (grad != nullptr) grad[base + k] = diff * grad_scale;
  }
  squares = warp_sum(squares);
  if (lane == 0) sample_loss[row] = squares / float(width);
}

}  // namespace

void softmax_cross_entropy(const float* logits, const std::int32_t* labels, float* sample_loss, float* grad, int batch,
                           int classes, cudaStream_t stream) {
  if (batch <= 0) return;
  softmax_cross_entropy_kernel<<<cuda::exact_blocks(std::size_t(batch), kRowsPerBlock), cuda::kBlockSize, 0, stream>>>(
      logits, labels, sample_loss, grad, batch, classes);
  MLPTUNE_CUDA_CHECK_LAUNCH(softmax_cross_entropy_kernel);
}

void mean_squared_error(const float* pred, const float* target, float* sample_loss, float* grad, int batch, int width,
                        cudaStream_t stream) {
  if (batch <= 0) return;
  mean_squared_error_kernel<<<cuda::exact_blocks(std::size_t(batch), kRowsPerBlock), cuda::kBlockSize, 0, stream>>>(
      pred, target, sample_loss, grad, batch, width);
  MLPTUNE_CUDA_CHECK_LAUNCH(mean_squared_error_kernel);
}

}  // namespace mlptune::kernels
