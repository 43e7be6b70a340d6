// Batch gather kernel: features (float or scaled bytes), labels or targets of the rows a
// permutation selects, and the training step's start, on a 2-D grid (rows × columns).
#include <algorithm>

#include "cuda/cuda_check.hpp"
#include "cuda/launch_config.hpp"
#include "gather.cuh"

namespace mlptune::kernels {
namespace {

using cuda::DeviceOptimizer;
using cuda::DeviceTrial;

constexpr unsigned int kMaxGridRows = 65535;  // gridDim.y's limit; more rows loop

// The step's entry in the epoch's learning-rate table: steps taken since the epoch began, clamped.
// Reads only fields that no kernel of the step writes before the update.
__device__ __forceinline__ long long step_index(const StepStart& start) {
  const long long index = start.trial->step - start.trial->epoch_first_step;
  return index < 0 ? 0 : (index >= start.epoch_steps ? start.epoch_steps - 1 : index);
}

// One thread: the step's constants into the record (see StepStart). No thread of the gather reads
// the fields written here.
__device__ void start_step(const StepStart& start) {
  DeviceTrial* trial = start.trial;
  const long long index = step_index(start);
  const double t = double(trial->step + 1);
  const double learning_rate = start.epoch_learning_rates[index];
  const bool decoupled = trial->optimizer == static_cast<std::int32_t>(DeviceOptimizer::adamw);
  trial->learning_rate = float(learning_rate);
  trial->adam_step_size = float(learning_rate / (1.0 - pow(trial->beta1, t)));
  trial->adam_inverse_sqrt_correction2 = float(1.0 / sqrt(1.0 - pow(trial->beta2, t)));
  trial->decoupled_keep = float(decoupled ? 1.0 - learning_rate * trial->weight_decay : 1.0);
  trial->batch_first_row = index * trial->batch_size;
}

__device__ __forceinline__ std::int64_t first_position(const RowSelection& rows) {
  return rows.host_first + (rows.step.trial != nullptr ? step_index(rows.step) * rows.step.trial->batch_size : 0);
}

__device__ __forceinline__ std::size_t source_row(const RowSelection& rows, std::int64_t first, int r) {
  const std::size_t position = std::size_t(first) + std::size_t(r);
  return rows.order != nullptr ? std::size_t(rows.order[position]) : position;
}

// Feature sources: a float table, or bytes with a per-column affine map.
struct FloatRows {
  const float* __restrict__ src;
  __device__ float operator()(std::size_t row, std::size_t cols, std::size_t c) const { return src[row * cols + c]; }
};

struct ScaledByteRows {
  const std::uint8_t* __restrict__ raw;
  const float* __restrict__ column_scale;
  const float* __restrict__ column_offset;
  __device__ float operator()(std::size_t row, std::size_t cols, std::size_t c) const {
    return fmaf(float(raw[row * cols + c]), column_scale[c], column_offset[c]);
  }
};

// Grid (column blocks, rows): block (x, y) copies columns x·256 + t of batch rows y, y + gridDim.y,
// ... (consecutive threads on consecutive columns: coalesced); column block 0 also copies the
// row's label or targets.
template <class Source>
static __global__ void gather_batch_kernel(Source source, std::size_t cols, RowSelection rows, int batch,
                                           float* __restrict__ dst, BatchTargets targets) {
  if (rows.step.trial != nullptr && blockIdx.x == 0 && blockIdx.y == 0 && threadIdx.x == 0) start_step(rows.step);
  const std::int64_t first = first_position(rows);
  const std::size_t column_stride = std::size_t(gridDim.x) * blockDim.x;
  for (int r = blockIdx.y; r < batch; r += gridDim.y) {
    const std::size_t row = source_row(rows, first, r);
    float* out = dst + std::size_t(r) * cols;
    for (std::size_t c = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; c < cols; c += column_stride)
      out[c] = source(row, cols, c);
    if (blockIdx.x != 0) continue;
    if (targets.labels != nullptr && threadIdx.x == 0) targets.batch_labels[r] = targets.labels[row];
    if (targets.targets == nullptr) continue;
    const std::size_t width = std::size_t(targets.target_width);
    for (std::size_t k = threadIdx.x; k < width; k += blockDim.x)
      targets.batch_targets[std::size_t(r) * width + k] = targets.targets[row * width + k];
  }
}

template <class Source>
void launch_gather(Source source, std::size_t cols, RowSelection rows, int batch, float* dst, BatchTargets targets,
                   cudaStream_t stream) {
  if (batch <= 0) return;
  const dim3 grid(std::min(cuda::exact_blocks(cols, cuda::kBlockSize), unsigned(cuda::kMaxGridStrideBlocks)),
                  std::min(unsigned(batch), kMaxGridRows));
  gather_batch_kernel<Source><<<grid, cuda::kBlockSize, 0, stream>>>(source, cols, rows, batch, dst, targets);
  MLPTUNE_CUDA_CHECK_LAUNCH(gather_batch_kernel);
}

}  // namespace

void gather_rows(const float* src, std::size_t cols, RowSelection rows, int batch, float* dst, BatchTargets targets,
                 cudaStream_t stream) {
  launch_gather(FloatRows{src}, cols, rows, batch, dst, targets, stream);
}

void gather_scaled_bytes(const std::uint8_t* raw, const float* column_scale, const float* column_offset,
                         std::size_t cols, RowSelection rows, int batch, float* dst, BatchTargets targets,
                         cudaStream_t stream) {
  launch_gather(ScaledByteRows{raw, column_scale, column_offset}, cols, rows, batch, dst, targets, stream);
}

}  // namespace mlptune::kernels
