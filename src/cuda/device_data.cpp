// Uploading a Dataset to the device (bytes kept as bytes) and gathering its batches.
#include "cuda/device_data.hpp"

#include <string>
#include <vector>

#include "cuda/cuda_check.hpp"
#include "mlptune/error.hpp"

namespace mlptune::cuda {
namespace {

template <class T>
DeviceBuffer upload(const std::vector<T>& host, const MemoryPool& pool, cudaStream_t stream) {
  DeviceBuffer buffer(host.size() * sizeof(T), pool, stream);
  if (!host.empty())
    MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(buffer.get(), host.data(), buffer.bytes(), cudaMemcpyHostToDevice, stream));
  return buffer;
}

void require_size(const Dataset& data, const char* field, std::size_t actual, std::size_t expected) {
  if (actual != expected)
    throw DataError("dataset '" + data.name + "': " + field + " holds " + std::to_string(actual) +
                    " values, expected " + std::to_string(expected) + " (" + std::to_string(data.rows) + " rows x " +
                    std::to_string(data.cols) + " columns)");
}

bool uses_bytes(const Dataset& data) {
  return !data.raw_bytes.empty() && data.raw_bytes.size() == data.rows * data.cols &&
         data.column_scale.size() == data.cols && data.column_offset.size() == data.cols;
}

void check_labels(const Dataset& data) {
  for (std::size_t r = 0; r < data.labels.size(); ++r) {
    if (data.labels[r] < 0 || data.labels[r] >= data.num_classes)
      throw DataError("dataset '" + data.name + "': label " + std::to_string(data.labels[r]) + " at row " +
                      std::to_string(r) + " is outside [0, " + std::to_string(data.num_classes) + ")");
  }
}

}  // namespace

DeviceDataset::DeviceDataset(const Dataset& host, const MemoryPool& pool, cudaStream_t stream)
    : task_(host.task), rows_(host.rows), cols_(host.cols), output_width_(host.output_width()) {
  if (uses_bytes(host)) {
    raw_ = upload(host.raw_bytes, pool, stream);
    column_scale_ = upload(host.column_scale, pool, stream);
    column_offset_ = upload(host.column_offset, pool, stream);
  } else {
    require_size(host, "features", host.features.size(), host.rows * host.cols);
    features_ = upload(host.features, pool, stream);
  }
  if (host.task == Task::classification) {
    require_size(host, "labels", host.labels.size(), host.rows);
    check_labels(host);
    labels_ = upload(host.labels, pool, stream);
  } else {
    require_size(host, "targets", host.targets.size(), host.rows * std::size_t(host.target_width));
    targets_ = upload(host.targets, pool, stream);
  }
  // The host vectors are pageable: wait, so `host` may change or go away after this returns.
  MLPTUNE_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void DeviceDataset::gather_features(kernels::RowSelection rows, int batch, float* x, kernels::BatchTargets targets,
                                    cudaStream_t stream) const {
  if (holds_bytes())
    kernels::gather_scaled_bytes(raw_.as<std::uint8_t>(), column_scale_.as<float>(), column_offset_.as<float>(), cols_,
                                 rows, batch, x, targets, stream);
  else
    kernels::gather_rows(features_.as<float>(), cols_, rows, batch, x, targets, stream);
}

}  // namespace mlptune::cuda
