// Choosing a backend: cpu, cuda, or automatic (CUDA when built and a device is seen).
#include <string>

#include "cpu/cpu_backend.hpp"
#include "cuda/cuda_backend.hpp"
#include "engine/backend_names.hpp"
#include "engine/multi_device_backend.hpp"
#include "mlptune/backend.hpp"
#include "mlptune/error.hpp"

namespace mlptune {

std::string_view to_string(BackendKind kind) {
  return kBackendNames.name_of(kind);
}

BackendKind parse_backend_kind(std::string_view text) {
  return kBackendNames.parse(text);
}

namespace {

// One CUDA backend, or with kAllDevices one per visible GPU behind a backend that spreads trials.
std::unique_ptr<Backend> make_cuda_backends(int device) {
  if (device != kAllDevices) return make_cuda_backend(device);
  std::vector<std::unique_ptr<Backend>> devices;
  for (const DeviceInfo& info : cuda_devices()) devices.push_back(make_cuda_backend(info.ordinal));
  if (devices.empty()) return make_cuda_backend(0);  // throws the backend's own "no device" message
  return make_multi_device_backend(std::move(devices));
}

}  // namespace

std::unique_ptr<Backend> make_backend(const BackendOptions& options) {
  switch (options.kind) {
    case BackendKind::cpu:
      return make_cpu_backend(options.threads_per_trial);
    case BackendKind::cuda:
      return make_cuda_backends(options.device);
    case BackendKind::automatic:
      if (cuda_backend_built() && !cuda_devices().empty()) return make_cuda_backends(options.device);
      return make_cpu_backend(options.threads_per_trial);
  }
  throw ConfigError("unknown backend kind");
}

}  // namespace mlptune
