// The CUDA entry points of a build without nvcc: no devices, and a clear error when asked for one.
#include "cuda/cuda_backend.hpp"
#include "mlptune/error.hpp"

namespace mlptune {

bool cuda_backend_built() {
  return false;
}

std::vector<DeviceInfo> cuda_devices() {
  return {};
}

std::unique_ptr<Backend> make_cuda_backend(int) {
  throw DeviceError(
      "this mlptune was built without the CUDA backend (no nvcc at configure time); "
      "install the CUDA toolkit and rebuild, or use --backend cpu");
}

}  // namespace mlptune
