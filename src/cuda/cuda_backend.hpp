// The CUDA backend's entry point, callable from plain C++ (no CUDA headers here).
#pragma once

#include <memory>

#include "mlptune/backend.hpp"

namespace mlptune {

// Throws DeviceError when the device cannot be used (no driver, bad ordinal).
std::unique_ptr<Backend> make_cuda_backend(int device);

}  // namespace mlptune
