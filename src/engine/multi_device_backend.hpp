// A backend over several devices: each new trainer goes to the device with the fewest live
// trainers, so a study's concurrent trials spread over every visible GPU.
#pragma once

#include <memory>
#include <vector>

#include "mlptune/backend.hpp"

namespace mlptune {

// `devices` are one backend per device (at least one). Trainers may outlive the returned backend's
// bookkeeping safely; each trainer's device backend must outlive the trainer, as for any backend.
std::unique_ptr<Backend> make_multi_device_backend(std::vector<std::unique_ptr<Backend>> devices);

}  // namespace mlptune
