// One trial on the GPU: its stream, device arena, cuBLAS handle and captured step graphs.
#pragma once

#include <memory>

#include "cuda/device_data.hpp"
#include "mlptune/backend.hpp"

namespace mlptune::cuda {

struct TrainerOptions {
  int device = 0;
  bool use_graphs = true;
};

// Validates the spec against the data (ConfigError), reserves the trial's device memory
// (DeviceError "out of GPU memory: ..." when it does not fit) and initialises the parameters from
// spec.train.seed on the device.
std::unique_ptr<Trainer> make_cuda_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> host_data,
                                           std::shared_ptr<const DeviceSplits> device_data,
                                           const TrainerOptions& options);

}  // namespace mlptune::cuda
