// The Trainer contract (tests/trainer_contract.hpp) over the CPU backend and over the multi-device
// backend spreading trials across two CPU backends.
#include "trainer_contract.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cpu/cpu_backend.hpp"
#include "engine/multi_device_backend.hpp"

namespace mlptune::test {
namespace {

// One BLAS thread per trial: the same thread count every run, so results repeat bit for bit.
struct CpuBackend {
  static std::string name() { return "cpu"; }
  static std::optional<std::string> unavailable() { return std::nullopt; }
  static bool required() { return true; }
  static std::unique_ptr<Backend> make() { return make_cpu_backend(1); }
};

struct MultiDeviceOverCpu {
  static std::string name() { return "multi_device_over_cpu"; }
  static std::optional<std::string> unavailable() { return std::nullopt; }
  static bool required() { return true; }
  static std::unique_ptr<Backend> make() {
    std::vector<std::unique_ptr<Backend>> devices;
    devices.push_back(make_cpu_backend(1));
    devices.push_back(make_cpu_backend(1));
    return make_multi_device_backend(std::move(devices));
  }
};

using CpuBackends = ::testing::Types<CpuBackend, MultiDeviceOverCpu>;
INSTANTIATE_TYPED_TEST_SUITE_P(Host, TrainerContract, CpuBackends, BackendName);

}  // namespace
}  // namespace mlptune::test
