// The one checking macro family for CUDA runtime and cuBLAS/cuBLASLt calls: a failure names the
// statement, function, file:line and device, and throws mlptune::DeviceError (or, in destructors,
// is logged to stderr).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

namespace mlptune::cuda {

// Where a checked call was made.
struct CallSite {
  const char* statement;
  const char* function;
  const char* file;
  int line;
};

[[noreturn]] void throw_failure(cudaError_t status, const CallSite& site);
[[noreturn]] void throw_failure(cublasStatus_t status, const CallSite& site);
void log_failure(cudaError_t status, const CallSite& site);
void log_failure(cublasStatus_t status, const CallSite& site);

// Throws DeviceError for a failed status; free on success.
inline void check(cudaError_t status, const CallSite& site) {
  if (status != cudaSuccess) [[unlikely]]
    throw_failure(status, site);
}
inline void check(cublasStatus_t status, const CallSite& site) {
  if (status != CUBLAS_STATUS_SUCCESS) [[unlikely]]
    throw_failure(status, site);
}
// Logs a failed status to stderr: for destructors, which must not throw.
inline void log_if_failed(cudaError_t status, const CallSite& site) {
  if (status != cudaSuccess) [[unlikely]]
    log_failure(status, site);
}
inline void log_if_failed(cublasStatus_t status, const CallSite& site) {
  if (status != CUBLAS_STATUS_SUCCESS) [[unlikely]]
    log_failure(status, site);
}

// "cuda:0 (NVIDIA H100 80GB HBM3)"; "cuda:N" alone when the name cannot be read. Never throws.
std::string device_label(int ordinal);

}  // namespace mlptune::cuda

// Throws DeviceError when `statement` (a cudaError_t or cublasStatus_t expression) fails.
#define MLPTUNE_CUDA_CHECK(statement) \
  ::mlptune::cuda::check((statement), ::mlptune::cuda::CallSite{#statement, __func__, __FILE__, __LINE__})
// After every kernel launch: a bad launch configuration fails here, not at a later call.
#define MLPTUNE_CUDA_CHECK_LAUNCH(kernel)    \
  ::mlptune::cuda::check(cudaGetLastError(), \
                         ::mlptune::cuda::CallSite{"launch of " #kernel, __func__, __FILE__, __LINE__})
// Logs instead of throwing (destructors).
#define MLPTUNE_CUDA_LOG(statement) \
  ::mlptune::cuda::log_if_failed((statement), ::mlptune::cuda::CallSite{#statement, __func__, __FILE__, __LINE__})
