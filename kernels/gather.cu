// Batch gather kernels: features (float or scaled bytes) and labels of the rows a permutation selects.
#include "cuda/cuda_check.hpp"
#include "cuda/launch_config.hpp"
#include "gather.cuh"

namespace mlptune::kernels {
namespace {

__device__ __forceinline__ std::size_t source_row(const RowSelection& rows, std::int64_t first, std::size_t r) {
  const std::size_t position = std::size_t(first) + r;
  return rows.order != nullptr ? std::size_t(rows.order[position]) : position;
}

__device__ __forceinline__ std::int64_t first_position(const RowSelection& rows) {
  return rows.host_first + (rows.device_first != nullptr ? *rows.device_first : 0);
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

// dst (B, cols): element i = (r, c) with consecutive threads on consecutive columns (coalesced).
template <class Source>
static __global__ void gather_features_kernel(Source source, std::size_t cols, RowSelection rows, int batch,
                                              float* __restrict__ dst) {
  const std::int64_t first = first_position(rows);
  const std::size_t count = std::size_t(batch) * cols;
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < count;
       i += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t r = i / cols;
    const std::size_t c = i - r * cols;
    dst[i] = source(source_row(rows, first, r), cols, c);
  }
}

static __global__ void gather_labels_kernel(const std::int32_t* __restrict__ labels, RowSelection rows, int batch,
                                            std::int32_t* __restrict__ dst) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= batch) return;
  dst[r] = labels[source_row(rows, first_position(rows), std::size_t(r))];
}

template <class Source>
void launch_features(Source source, std::size_t cols, RowSelection rows, int batch, float* dst, cudaStream_t stream) {
  const std::size_t count = std::size_t(batch) * cols;
  if (count == 0) return;
  gather_features_kernel<Source>
      <<<cuda::grid_stride_blocks(count), cuda::kBlockSize, 0, stream>>>(source, cols, rows, batch, dst);
  MLPTUNE_CUDA_CHECK_LAUNCH(gather_features_kernel);
}

}  // namespace

void gather_rows(const float* src, std::size_t cols, RowSelection rows, int batch, float* dst, cudaStream_t stream) {
  launch_features(FloatRows{src}, cols, rows, batch, dst, stream);
}

void gather_scaled_bytes(const std::uint8_t* raw, const float* column_scale, const float* column_offset,
                         std::size_t cols, RowSelection rows, int batch, float* dst, cudaStream_t stream) {
  launch_features(ScaledByteRows{raw, column_scale, column_offset}, cols, rows, batch, dst, stream);
}

void gather_labels(const std::int32_t* labels, RowSelection rows, int batch, std::int32_t* dst, cudaStream_t stream) {
  if (batch <= 0) return;
  gather_labels_kernel<<<cuda::exact_blocks(std::size_t(batch), cuda::kBlockSize), cuda::kBlockSize, 0, stream>>>(
      labels, rows, batch, dst);
  MLPTUNE_CUDA_CHECK_LAUNCH(gather_labels_kernel);
}

}  // namespace mlptune::kernels
