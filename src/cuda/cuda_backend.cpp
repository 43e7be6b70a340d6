// The CUDA backend: device discovery, the per-backend cache of uploaded datasets, and trainers.
#include "cuda/cuda_backend.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "cuda/cuda_check.hpp"
#include "cuda/cuda_trainer.hpp"
#include "cuda/device_data.hpp"
#include "cuda/device_resources.hpp"
#include "mlptune/error.hpp"

namespace mlptune {
namespace {

// Streams worth running at once: one trial is a chain of small dependent kernels that fills a few
// SMs, so about one trial per 8 SMs (16 on a 132-SM H100), within [1, 64].
constexpr int kSmsPerTrial = 8;
constexpr int kMaxConcurrency = 64;

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: clear it, this thread's later checks are unrelated
    return 0;
  }
  return count;
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const CudaBackendOptions& options) : options_(options) {
    const int count = device_count();
    if (count == 0)
      throw DeviceError("no CUDA device is visible (no driver, or CUDA_VISIBLE_DEVICES hides them); use --backend cpu");
    if (options.device < 0 || options.device >= count)
      throw DeviceError("CUDA device " + std::to_string(options.device) + " does not exist: " + std::to_string(count) +
                        " device(s) seen, ordinals 0.." + std::to_string(count - 1));
    cuda::DeviceGuard device(options.device);
    cudaDeviceProp properties{};
    MLPTUNE_CUDA_CHECK(cudaGetDeviceProperties(&properties, options.device));
    name_ = cuda::device_label(options.device);
    concurrency_ = std::clamp(properties.multiProcessorCount / kSmsPerTrial, 1, kMaxConcurrency);
  }

  std::string name() const override { return name_; }
  BackendKind kind() const override { return BackendKind::cuda; }
  int recommended_concurrency() const override { return concurrency_; }

  std::unique_ptr<Trainer> make_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> data) override {
    if (!data) throw ConfigError("make_trainer: no data given");
    cuda::DeviceGuard device(options_.device);
    std::shared_ptr<const cuda::DeviceSplits> device_data = resident(data);
    return cuda::make_cuda_trainer(spec, std::move(data), std::move(device_data),
                                   cuda::TrainerOptions{options_.device, options_.use_graphs});
  }

 private:
  struct CachedSplits {
    std::weak_ptr<const DataSplits> host;
    std::shared_ptr<const cuda::DeviceSplits> device;
  };

  // The device copy of `data`, uploaded on first use. Entries whose host data is gone are dropped
  // (trainers still holding the device copy keep it alive).
  std::shared_ptr<const cuda::DeviceSplits> resident(const std::shared_ptr<const DataSplits>& data) {
    std::lock_guard lock(mutex_);
    std::erase_if(cache_, [](const CachedSplits& entry) { return entry.host.expired(); });
    for (const CachedSplits& entry : cache_)
      if (entry.host.lock() == data) return entry.device;
    cuda::Stream stream;
    auto splits = std::make_shared<cuda::DeviceSplits>();
    splits->train = cuda::DeviceDataset(data->train, stream.get());
    splits->validation = cuda::DeviceDataset(data->validation, stream.get());
    splits->test = cuda::DeviceDataset(data->test, stream.get());
    cache_.push_back(CachedSplits{data, splits});
    return splits;
  }

  CudaBackendOptions options_;
  std::string name_;
  int concurrency_ = 1;
  std::mutex mutex_;
  std::vector<CachedSplits> cache_;
};

}  // namespace

bool cuda_backend_built() {
  return true;
}

std::vector<DeviceInfo> cuda_devices() {
  std::vector<DeviceInfo> devices;
  const int count = device_count();
  for (int ordinal = 0; ordinal < count; ++ordinal) {
    try {
      cuda::DeviceGuard device(ordinal);
      cudaDeviceProp properties{};
      MLPTUNE_CUDA_CHECK(cudaGetDeviceProperties(&properties, ordinal));
      DeviceInfo info;
      info.ordinal = ordinal;
      info.name = properties.name;
      MLPTUNE_CUDA_CHECK(cudaMemGetInfo(&info.free_memory, &info.total_memory));
      info.compute_major = properties.major;
      info.compute_minor = properties.minor;
      info.multiprocessors = properties.multiProcessorCount;
      devices.push_back(std::move(info));
    } catch (const DeviceError&) {
      // A device that cannot be opened is not listed: this function never throws.
    }
  }
  return devices;
}

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options) {
  return std::make_unique<CudaBackend>(options);
}

std::unique_ptr<Backend> make_cuda_backend(int device) {
  CudaBackendOptions options;
  options.device = device;
  if (const char* graphs = std::getenv("MLPTUNE_CUDA_GRAPHS"); graphs != nullptr && std::string(graphs) == "0")
    options.use_graphs = false;
  return std::make_unique<CudaBackend>(options);
}

}  // namespace mlptune
