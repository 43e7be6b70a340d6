// Launchers of the batch gather: rows picked through a permutation, bytes scaled to floats.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace mlptune::kernels {

// Which rows a batch holds: batch row r is source row order[first + r], or first + r when order is
// null; first = *device_first (when not null: the training step reads it from the trial record,
// so a graph replays over the epoch) + host_first.
struct RowSelection {
  const std::uint32_t* order = nullptr;        // permutation of the source rows, or null (identity)
  const std::int64_t* device_first = nullptr;  // device memory, or null
  std::int64_t host_first = 0;
};

// dst (B, cols) = float rows of src (rows, cols).
void gather_rows(const float* src, std::size_t cols, RowSelection rows, int batch, float* dst, cudaStream_t stream);

// dst (B, cols) = fmaf(float(raw), column_scale[c], column_offset[c]) for raw bytes (rows, cols):
// exactly Dataset::features, which the host computes with the same fused expression.
void gather_scaled_bytes(const std::uint8_t* raw, const float* column_scale, const float* column_offset,
                         std::size_t cols, RowSelection rows, int batch, float* dst, cudaStream_t stream);

// dst (B) = labels of the selected rows.
void gather_labels(const std::int32_t* labels, RowSelection rows, int batch, std::int32_t* dst, cudaStream_t stream);

}  // namespace mlptune::kernels
