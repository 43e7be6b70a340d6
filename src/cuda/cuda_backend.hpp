// The CUDA backend's entry point, callable from plain C++ (no CUDA headers here).
#pragma once

#include <memory>

#include "mlptune/backend.hpp"

namespace mlptune {

// Throws DeviceError when the device cannot be used (no driver, bad ordinal).
std::unique_ptr<Backend> make_cuda_backend(int device);

}  // namespace mlptune

namespace mlptune {

// Options of the CUDA backend beyond the device ordinal.
struct CudaBackendOptions {
  int device = 0;
  // Capture each training step as a CUDA graph and replay it. Off: the same kernels launched one
  // by one, with NVTX ranges per phase (forward, backward, update) on every step. The default
  // overload reads MLPTUNE_CUDA_GRAPHS (0 turns graphs off).
  bool use_graphs = true;
};

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options);

}  // namespace mlptune
