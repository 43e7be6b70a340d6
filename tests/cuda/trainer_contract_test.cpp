// The Trainer contract (tests/trainer_contract.hpp) over the CUDA backend and over the
// multi-device backend spreading trials across two CUDA backends of device 0. Without a device
// these skip, and fail where MLPTUNE_REQUIRE_GPU=1 asks for one (as every GPU test does).
#include "trainer_contract.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cuda/cuda_backend.hpp"
#include "engine/multi_device_backend.hpp"
#include "gpu_test_support.hpp"

namespace mlptune::test {
namespace {

std::optional<std::string> no_cuda_device() {
  if (cuda_device_available()) return std::nullopt;
  return "no CUDA device";
}

struct CudaBackend {
  static std::string name() { return "cuda"; }
  static std::optional<std::string> unavailable() { return no_cuda_device(); }
  static bool required() { return gpu_required(); }
  static std::unique_ptr<Backend> make() { return make_cuda_backend(CudaBackendOptions{}); }
};

struct MultiDeviceOverCuda {
  static std::string name() { return "multi_device_over_cuda"; }
  static std::optional<std::string> unavailable() { return no_cuda_device(); }
  static bool required() { return gpu_required(); }
  static std::unique_ptr<Backend> make() {
    std::vector<std::unique_ptr<Backend>> devices;
    devices.push_back(make_cuda_backend(CudaBackendOptions{}));
    devices.push_back(make_cuda_backend(CudaBackendOptions{}));
    return make_multi_device_backend(std::move(devices));
  }
};

using CudaBackends = ::testing::Types<CudaBackend, MultiDeviceOverCuda>;
INSTANTIATE_TYPED_TEST_SUITE_P(Device, TrainerContract, CudaBackends, BackendName);

}  // namespace
}  // namespace mlptune::test
