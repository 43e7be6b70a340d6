// `mlptune devices`: the CUDA devices this build can use, or a plain "no CUDA device".
#include <iostream>

#include "cli/commands.hpp"
#include "cli/text.hpp"
#include "mlptune/backend.hpp"

namespace mlptune::cli {

Command add_devices_command(CLI::App& app) {
  app.add_subcommand("devices", "List the CUDA devices seen, with memory and compute capability");
  return [] {
    if (!cuda_backend_built()) {
      std::cout << "no CUDA device: this mlptune was built without the CUDA backend (training uses the CPU)\n";
      return kExitOk;
    }
    const auto devices = cuda_devices();
    if (devices.empty()) {
      std::cout << "no CUDA device (no GPU or no driver visible; training uses the CPU)\n";
      return kExitOk;
    }
    for (const DeviceInfo& device : devices) {
      std::cout << format("cuda:%d  %s  compute %d.%d  %d SMs  %.1f GiB total, %.1f GiB free\n", device.ordinal,
                          device.name.c_str(), device.compute_major, device.compute_minor, device.multiprocessors,
                          double(device.total_memory) / (1 << 30), double(device.free_memory) / (1 << 30));
    }
    return kExitOk;
  };
}

}  // namespace mlptune::cli
