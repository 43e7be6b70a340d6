// Failure reports of the CUDA/cuBLAS checking macros: statement, function, file:line, device.
#include "cuda/cuda_check.hpp"

#include <cstdio>
#include <string>

#include "mlptune/error.hpp"

namespace mlptune::cuda {
namespace {

std::string current_device() {
  int ordinal = -1;
  if (cudaGetDevice(&ordinal) != cudaSuccess) {
    cudaGetLastError();  // clear it, so the next checked call reports its own status
    return "cuda:?";
  }
  return device_label(ordinal);
}

std::string describe(const std::string& error, const CallSite& site) {
  return error + " in `" + site.statement + "` (" + site.function + ", " + site.file + ":" + std::to_string(site.line) +
         ") on " + current_device();
}

std::string cuda_error_text(cudaError_t status) {
  return std::string("CUDA error ") + cudaGetErrorName(status) + ": " + cudaGetErrorString(status);
}

std::string cublas_error_text(cublasStatus_t status) {
  return std::string("cuBLAS error ") + cublasGetStatusName(status) + ": " + cublasGetStatusString(status);
}

}  // namespace

std::string device_label(int ordinal) {
  cudaDeviceProp properties{};
  if (cudaGetDeviceProperties(&properties, ordinal) != cudaSuccess) {
    cudaGetLastError();
    return "cuda:" + std::to_string(ordinal);
  }
  return "cuda:" + std::to_string(ordinal) + " (" + properties.name + ")";
}

void throw_failure(cudaError_t status, const CallSite& site) {
  // Clear a non-sticky error (e.g. out of memory) so this thread's next launch check does not
  // report it again; sticky errors (a faulted context) stay and fail every later call.
  cudaGetLastError();
  throw DeviceError(describe(cuda_error_text(status), site));
}

void throw_failure(cublasStatus_t status, const CallSite& site) {
  throw DeviceError(describe(cublas_error_text(status), site));
}

void log_failure(cudaError_t status, const CallSite& site) {
  std::fprintf(stderr, "mlptune: %s\n", describe(cuda_error_text(status), site).c_str());
}

void log_failure(cublasStatus_t status, const CallSite& site) {
  std::fprintf(stderr, "mlptune: %s\n", describe(cublas_error_text(status), site).c_str());
}

}  // namespace mlptune::cuda
