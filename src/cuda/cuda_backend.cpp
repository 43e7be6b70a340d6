// The CUDA backend: device discovery and set-up, its device's context (shared datasets, trial
// slots, memory pool), and trainers.
#include "cuda/cuda_backend.hpp"

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cuda/concurrency.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/cuda_trainer.hpp"
#include "cuda/device_context.hpp"
#include "cuda/device_resources.hpp"
#include "mlptune/error.hpp"

namespace mlptune {
namespace {

// Every way into the backend starts here, so CUDA_DEVICE_MAX_CONNECTIONS is set before the
// process's first CUDA call. Returns the devices seen (0 without a driver or device).
int device_count() {
  cuda::prepare_connections();
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
    cuda::initialize_device(options.device);
    cudaDeviceProp properties{};
    MLPTUNE_CUDA_CHECK(cudaGetDeviceProperties(&properties, options.device));
    name_ = cuda::device_label(options.device);
    concurrency_ = cuda::recommended_concurrency(properties.multiProcessorCount, cuda::prepare_connections());
    context_ = cuda::make_device_context(options.device);
  }

  std::string name() const override { return name_; }
  BackendKind kind() const override { return BackendKind::cuda; }
  int recommended_concurrency() const override { return concurrency_; }

  std::unique_ptr<Trainer> make_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> data) override {
    if (!data) throw ConfigError("a trainer needs its data: none was given");
    const cuda::StepLaunch launch = options_.use_graphs ? cuda::StepLaunch::graphs : cuda::StepLaunch::eager;
    return cuda::make_cuda_trainer(spec, std::move(data), context_, cuda::TrainerOptions{options_.device, launch});
  }

 private:
  CudaBackendOptions options_;
  std::string name_;
  int concurrency_ = 1;
  // Shared with the trainers, which may outlive the backend.
  std::shared_ptr<cuda::DeviceContext> context_;
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
      cuda::initialize_device(ordinal);  // before the guard makes its context with other flags
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
