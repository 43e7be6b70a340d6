// Softmax cross-entropy and mean squared error in one block: a warp per sample computes its loss
// and gradient, then the block sums the batch's metrics and the bias gradient in a fixed order.
#include <cmath>

#include "cuda/cuda_check.hpp"
#include "loss.cuh"

namespace mlptune::kernels {
namespace {

constexpr int kWarp = 32;
constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / kWarp;

__device__ __forceinline__ float warp_sum(float value) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

__device__ __forceinline__ float warp_max(float value) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}

// One row's loss (in every lane) and correctness (in lane 0).
struct RowOutcome {
  float loss = 0.0f;
  int correct = 0;
};

// row (C) += bias (C) when bias is not null; afterwards every lane sees the whole row.
__device__ __forceinline__ void add_bias(float* row, const float* bias, int width, int lane) {
  if (bias != nullptr)
    for (int c = lane; c < width; c += kWarp) row[c] += bias[c];
  __syncwarp();
}

// Lane 0: whether the first index of the row maximum of scores (C) is `label` (ref::count_correct).
__device__ __forceinline__ int first_argmax_is(const float* scores, int classes, int label) {
  int best = 0;
  for (int c = 1; c < classes; ++c)
    if (scores[c] > scores[best]) best = c;
  return best == label ? 1 : 0;
}

struct SoftmaxCrossEntropyRows {
  float* logits;  // (B, C)
  const float* bias;
  const std::int32_t* labels;
  int classes;

  // Warp: row `row` (lane `lane`) → its loss, gradient row and correctness.
  __device__ RowOutcome operator()(int row, int lane, int batch, const LossOutputs& outputs) const {
    float* z = logits + std::size_t(row) * classes;
    add_bias(z, bias, classes, lane);
    float row_max = -INFINITY;
    for (int c = lane; c < classes; c += kWarp) row_max = fmaxf(row_max, z[c]);
    row_max = warp_max(row_max);
    float exp_sum = 0.0f;
    for (int c = lane; c < classes; c += kWarp) exp_sum += expf(z[c] - row_max);
    exp_sum = warp_sum(exp_sum);
    const int label = labels[row];
    const bool label_ok = label >= 0 && label < classes;
    RowOutcome outcome;
    outcome.loss = label_ok ? logf(exp_sum) - (z[label] - row_max) : NAN;
    if (outputs.grad != nullptr) {
      const float inverse_sum = 1.0f / exp_sum;
      const float batch_f = float(batch);
      float* g = outputs.grad + std::size_t(row) * classes;
      for (int c = lane; c < classes; c += kWarp) {
        const float softmax = expf(z[c] - row_max) * inverse_sum;
        g[c] = (softmax - (c == label ? 1.0f : 0.0f)) / batch_f;
      }
    }
    if (outputs.count_correct && lane == 0) outcome.correct = first_argmax_is(z, classes, label);
    return outcome;
  }
};

struct MeanSquaredErrorRows {
  float* pred;  // (B, K)
  const float* bias;
  const float* target;
  int width;

  __device__ RowOutcome operator()(int row, int lane, int batch, const LossOutputs& outputs) const {
    const std::size_t base = std::size_t(row) * width;
    add_bias(pred + base, bias, width, lane);
    const float grad_scale = 2.0f / (float(batch) * float(width));
    float squares = 0.0f;
    for (int k = lane; k < width; k += kWarp) {
      const float diff = pred[base + k] - target[base + k];
      squares += diff * diff;
      if (outputs.grad != nullptr) outputs.grad[base + k] = diff * grad_scale;
    }
    squares = warp_sum(squares);
    RowOutcome outcome;
    outcome.loss = squares / float(width);
    return outcome;
  }
};

// bias_grad (C) = Σ_rows grad (B, C), by the whole block: thread (column lane x, row lane y) sums
// rows y, y + 32, ... of column base + x, then the 32 partial sums of a column are added in order.
__device__ void column_sums(const float* grad, float* bias_grad, int batch, int width) {
  __shared__ float partial[kWarps][kWarp];
  const int column_lane = threadIdx.x % kWarp;
  const int row_lane = threadIdx.x / kWarp;
  for (int base = 0; base < width; base += kWarp) {
    const int column = base + column_lane;
    float sum = 0.0f;
    if (column < width)
      for (int row = row_lane; row < batch; row += kWarps) sum += grad[std::size_t(row) * width + column];
    partial[row_lane][column_lane] = sum;
    __syncthreads();
    if (row_lane == 0 && column < width) {
      float total = 0.0f;
      for (int lane = 0; lane < kWarps; ++lane) total += partial[lane][column_lane];
      bias_grad[column] = total;
    }
    __syncthreads();
  }
}

// One block of 1024 threads: warp w takes rows w, w + 32, ...; its lane 0 sums their losses (in
// double) and correct counts in row order, thread 0 adds the 32 warps' sums in warp order. No thread
// returns early: every __syncthreads is reached by all.
template <class Rows>
static __global__ void loss_kernel(Rows rows, int batch, int width, LossOutputs outputs) {
  __shared__ double loss_partial[kWarps];
  __shared__ long long correct_partial[kWarps];
  __shared__ int bad_partial[kWarps];
  const int warp = threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  double loss = 0.0;
  long long right = 0;
  int bad = 0;
  for (int row = warp; row < batch; row += kWarps) {
    const RowOutcome outcome = rows(row, lane, batch, outputs);
    if (lane != 0) continue;
    outputs.sample_loss[row] = outcome.loss;
    loss += double(outcome.loss);
    bad |= isfinite(outcome.loss) ? 0 : 1;
    right += outcome.correct;
  }
  if (lane == 0) {
    loss_partial[warp] = loss;
    correct_partial[warp] = right;
    bad_partial[warp] = bad;
  }
  __syncthreads();  // also makes every row's gradient visible to the whole block
  MetricSums* metrics = outputs.metrics;
  if (threadIdx.x == 0 && metrics != nullptr) {
    double loss_sum = 0.0;
    long long correct = 0;
    int any_bad = 0;
    for (int w = 0; w < kWarps; ++w) {
      loss_sum += loss_partial[w];
      correct += correct_partial[w];
      any_bad |= bad_partial[w];
    }
    metrics->loss_sum += loss_sum;
    metrics->correct += correct;
    metrics->samples += batch;
    if (any_bad != 0 && metrics->nonfinite == 0) {
      metrics->nonfinite = 1;
      metrics->first_nonfinite_step = outputs.step_counter != nullptr ? *outputs.step_counter + 1 : 0;
    }
  }
  if (outputs.grad != nullptr && outputs.bias_grad != nullptr)
    column_sums(outputs.grad, outputs.bias_grad, batch, width);
}

template <class Rows>
void launch_loss(Rows rows, int batch, int width, const LossOutputs& outputs, cudaStream_t stream) {
  if (batch <= 0) return;
  loss_kernel<Rows><<<1, kThreads, 0, stream>>>(rows, batch, width, outputs);
  MLPTUNE_CUDA_CHECK_LAUNCH(loss_kernel);
}

}  // namespace

void softmax_cross_entropy(float* logits, const float* bias, const std::int32_t* labels, LossOutputs outputs, int batch,
                           int classes, cudaStream_t stream) {
  launch_loss(SoftmaxCrossEntropyRows{logits, bias, labels, classes}, batch, classes, outputs, stream);
}

void mean_squared_error(float* pred, const float* bias, const float* target, LossOutputs outputs, int batch, int width,
                        cudaStream_t stream) {
  launch_loss(MeanSquaredErrorRows{pred, bias, target, width}, batch, width, outputs, stream);
}

}  // namespace mlptune::kernels
