// Datasets in device memory: uploaded once per backend and shared read-only by every trainer.
// Byte images (MNIST) stay bytes; the gather scales them with the host's exact expression.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/device_resources.hpp"
#include "gather.cuh"
#include "mlptune/data.hpp"

namespace mlptune::cuda {

class DeviceDataset {
 public:
  DeviceDataset() = default;
  // Copies `host` to the device (checked for consistent sizes: DataError otherwise) into buffers
  // from `pool`, stream-ordered on `stream` (which must outlive the dataset: they are freed on it),
  // and waits for the copy on `stream`.
  DeviceDataset(const Dataset& host, const MemoryPool& pool, cudaStream_t stream);

  Task task() const { return task_; }
  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  int output_width() const { return output_width_; }
  bool holds_bytes() const { return raw_.get() != nullptr; }
  const std::int32_t* labels() const { return labels_.as<std::int32_t>(); }  // classification: rows
  const float* targets() const { return targets_.as<float>(); }              // regression: rows x width

  // x (B, cols) = feature rows selected by `rows`; in the same kernel, `targets` as BatchTargets says.
  void gather_features(kernels::RowSelection rows, int batch, float* x, kernels::BatchTargets targets,
                       cudaStream_t stream) const;

 private:
  Task task_ = Task::classification;
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  int output_width_ = 0;
  DeviceBuffer features_;       // float rows x cols, when the set holds no bytes
  DeviceBuffer raw_;            // uint8 rows x cols
  DeviceBuffer column_scale_;   // float cols
  DeviceBuffer column_offset_;  // float cols
  DeviceBuffer labels_;
  DeviceBuffer targets_;
};

struct DeviceSplits {
  DeviceDataset train;
  DeviceDataset validation;
  DeviceDataset test;
};

}  // namespace mlptune::cuda
