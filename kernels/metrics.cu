// Metric kernels: argmax correctness per sample and a single-block, fixed-order batch sum.
#include "cuda/cuda_check.hpp"
#include "cuda/launch_config.hpp"
#include "metrics.cuh"

namespace mlptune::kernels {
namespace {

constexpr int kReduceThreads = 256;  // one block; a power of two for the tree below

// Thread per sample: scan its row of scores (B, C) for the first maximum. Rows are short (classes).
static __global__ void count_correct_kernel(const float* __restrict__ scores, const std::int32_t* __restrict__ labels,
                                            std::int32_t* __restrict__ correct, int batch, int classes) {
  const int row = blockIdx.x * blockDim.x + threadIdx.x;
  if (row >= batch) return;
  const float* s = scores + std::size_t(row) * classes;
  int best = 0;
  for (int c = 1; c < classes; ++c)
    if (s[c] > s[best]) best = c;
  correct[row] = best == labels[row] ? 1 : 0;
}

// One block of 256 threads: thread t sums samples t, t+256, ... in double; the tree adds the
// partial sums in a fixed order, so the result does not depend on scheduling.
static __global__ void accumulate_metrics_kernel(const float* __restrict__ sample_loss,
                                                 const std::int32_t* __restrict__ correct, int batch,
                                                 MetricSums* __restrict__ metrics,
                                                 const std::int64_t* __restrict__ step_counter) {
  __shared__ double loss_partial[kReduceThreads];
  __shared__ long long correct_partial[kReduceThreads];
  __shared__ int bad_partial[kReduceThreads];
  double loss = 0.0;
  long long right = 0;
  int bad = 0;
  for (int i = threadIdx.x; i < batch; i += kReduceThreads) {
    const float value = sample_loss[i];
    loss += double(value);
    bad |= isfinite(value) ? 0 : 1;
    if (correct != nullptr) right += correct[i];
  }
  loss_partial[threadIdx.x] = loss;
  correct_partial[threadIdx.x] = right;
  bad_partial[threadIdx.x] = bad;
  __syncthreads();
  for (int half = kReduceThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      loss_partial[threadIdx.x] += loss_partial[threadIdx.x + half];
      correct_partial[threadIdx.x] += correct_partial[threadIdx.x + half];
      bad_partial[threadIdx.x] |= bad_partial[threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x != 0) return;
  metrics->loss_sum += loss_partial[0];
  metrics->correct += correct_partial[0];
  metrics->samples += batch;
  if (bad_partial[0] != 0 && metrics->nonfinite == 0) {
    metrics->nonfinite = 1;
    metrics->first_nonfinite_step = step_counter != nullptr ? *step_counter + 1 : 0;
  }
}

// Grid-stride over the values; the first thread to find a bad one claims the flag.
static __global__ void flag_nonfinite_values_kernel(const float* __restrict__ values, std::size_t count,
                                                    MetricSums* __restrict__ metrics,
                                                    const std::int64_t* __restrict__ step_counter) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < count;
       i += std::size_t(gridDim.x) * blockDim.x) {
    if (isfinite(values[i])) continue;
    if (atomicCAS(&metrics->nonfinite, 0, 1) == 0) metrics->first_nonfinite_step = *step_counter;
    return;
  }
}

}  // namespace

void flag_nonfinite_values(const float* values, std::size_t count, MetricSums* metrics,
                           const std::int64_t* step_counter, cudaStream_t stream) {
  if (count == 0) return;
  flag_nonfinite_values_kernel<<<cuda::grid_stride_blocks(count), cuda::kBlockSize, 0, stream>>>(values, count, metrics,
                                                                                                 step_counter);
  MLPTUNE_CUDA_CHECK_LAUNCH(flag_nonfinite_values_kernel);
}

void count_correct(const float* scores, const std::int32_t* labels, std::int32_t* correct, int batch, int classes,
                   cudaStream_t stream) {
  if (batch <= 0) return;
  count_correct_kernel<<<cuda::exact_blocks(std::size_t(batch), cuda::kBlockSize), cuda::kBlockSize, 0, stream>>>(
      scores, labels, correct, batch, classes);
  MLPTUNE_CUDA_CHECK_LAUNCH(count_correct_kernel);
}

void accumulate_metrics(const float* sample_loss, const std::int32_t* correct, int batch, MetricSums* metrics,
                        const std::int64_t* step_counter, cudaStream_t stream) {
  if (batch <= 0) return;
  accumulate_metrics_kernel<<<1, kReduceThreads, 0, stream>>>(sample_loss, correct, batch, metrics, step_counter);
  MLPTUNE_CUDA_CHECK_LAUNCH(accumulate_metrics_kernel);
}

}  // namespace mlptune::kernels
