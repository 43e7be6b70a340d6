// One trial on the GPU: its device arena and captured step graphs, on a slot (stream, cuBLAS
// handle, pinned buffers) lent by the device's context.
#pragma once

#include <cstddef>
#include <memory>

#include "cuda/device_context.hpp"
#include "cuda/step_launch.hpp"
#include "mlptune/backend.hpp"

namespace mlptune::cuda {

struct TrainerOptions {
  int device = 0;
  StepLaunch launch = StepLaunch::graphs;
};

// Validates the spec against the data (ConfigError), takes a slot from `context`, reserves the
// trial's device memory (DeviceError "out of GPU memory: ..." when it does not fit) and initialises
// the parameters from spec.train.seed on the device. The trainer shares `context` (it may outlive
// the backend) and gives its slot back when destroyed.
std::unique_ptr<Trainer> make_cuda_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> host_data,
                                           std::shared_ptr<DeviceContext> context, const TrainerOptions& options);

// Nodes of a CUDA trainer's captured full-batch step graph, as cudaGraphGetNodes counts them: 0
// before the capture (the second full step), when it runs eagerly, or for another trainer.
std::size_t step_graph_nodes(const Trainer& trainer);

}  // namespace mlptune::cuda
