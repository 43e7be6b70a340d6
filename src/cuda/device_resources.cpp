// RAII owners of CUDA resources: construction checks and throws, destruction logs.
#include "cuda/device_resources.hpp"

#include "cuda/cuda_check.hpp"

namespace mlptune::cuda {

DeviceGuard::DeviceGuard(int ordinal) {
  MLPTUNE_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != ordinal) MLPTUNE_CUDA_CHECK(cudaSetDevice(ordinal));
}

DeviceGuard::~DeviceGuard() {
  int current = -1;
  MLPTUNE_CUDA_LOG(cudaGetDevice(&current));
  if (previous_ >= 0 && current != previous_) MLPTUNE_CUDA_LOG(cudaSetDevice(previous_));
}

Stream::Stream() {
  MLPTUNE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

Stream::~Stream() {
  if (stream_ != nullptr) MLPTUNE_CUDA_LOG(cudaStreamDestroy(stream_));
}

Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    if (stream_ != nullptr) MLPTUNE_CUDA_LOG(cudaStreamDestroy(stream_));
    stream_ = std::exchange(other.stream_, nullptr);
  }
  return *this;
}

void Stream::synchronize() const {
  MLPTUNE_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

DeviceBuffer::DeviceBuffer(std::size_t bytes, cudaStream_t stream, bool stream_ordered)
    : bytes_(bytes), stream_(stream), stream_ordered_(stream_ordered) {
  if (bytes == 0) return;
  if (stream_ordered_)
    MLPTUNE_CUDA_CHECK(cudaMallocAsync(&data_, bytes, stream_));
  else
    MLPTUNE_CUDA_CHECK(cudaMalloc(&data_, bytes));
}

DeviceBuffer::~DeviceBuffer() {
  release();
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)),
      stream_(other.stream_),
      stream_ordered_(other.stream_ordered_) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    stream_ = other.stream_;
    stream_ordered_ = other.stream_ordered_;
  }
  return *this;
}

void DeviceBuffer::release() noexcept {
  if (data_ == nullptr) return;
  if (stream_ordered_)
    MLPTUNE_CUDA_LOG(cudaFreeAsync(data_, stream_));
  else
    MLPTUNE_CUDA_LOG(cudaFree(data_));
  data_ = nullptr;
  bytes_ = 0;
}

PinnedBuffer::PinnedBuffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes > 0) MLPTUNE_CUDA_CHECK(cudaMallocHost(&data_, bytes));
}

PinnedBuffer::~PinnedBuffer() {
  if (data_ != nullptr) MLPTUNE_CUDA_LOG(cudaFreeHost(data_));
}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) MLPTUNE_CUDA_LOG(cudaFreeHost(data_));
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

GraphExec::GraphExec(cudaGraph_t graph) {
  const cudaError_t status = cudaGraphInstantiate(&exec_, graph, 0);
  MLPTUNE_CUDA_LOG(cudaGraphDestroy(graph));
  MLPTUNE_CUDA_CHECK(status);
}

GraphExec::~GraphExec() {
  if (exec_ != nullptr) MLPTUNE_CUDA_LOG(cudaGraphExecDestroy(exec_));
}

GraphExec& GraphExec::operator=(GraphExec&& other) noexcept {
  if (this != &other) {
    if (exec_ != nullptr) MLPTUNE_CUDA_LOG(cudaGraphExecDestroy(exec_));
    exec_ = std::exchange(other.exec_, nullptr);
  }
  return *this;
}

void GraphExec::launch(cudaStream_t stream) const {
  MLPTUNE_CUDA_CHECK(cudaGraphLaunch(exec_, stream));
}

CublasHandle::CublasHandle(cudaStream_t stream, void* workspace, std::size_t workspace_bytes) {
  MLPTUNE_CUDA_CHECK(cublasCreate(&handle_));
  try {
    MLPTUNE_CUDA_CHECK(cublasSetStream(handle_, stream));
    MLPTUNE_CUDA_CHECK(cublasSetWorkspace(handle_, workspace, workspace_bytes));
    // Results must not depend on which other trials run: no atomics-based reductions.
    MLPTUNE_CUDA_CHECK(cublasSetAtomicsMode(handle_, CUBLAS_ATOMICS_NOT_ALLOWED));
    MLPTUNE_CUDA_CHECK(cublasSetPointerMode(handle_, CUBLAS_POINTER_MODE_HOST));
  } catch (...) {
    MLPTUNE_CUDA_LOG(cublasDestroy(handle_));
    throw;
  }
}

CublasHandle::~CublasHandle() {
  if (handle_ != nullptr) MLPTUNE_CUDA_LOG(cublasDestroy(handle_));
}

CublasHandle& CublasHandle::operator=(CublasHandle&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) MLPTUNE_CUDA_LOG(cublasDestroy(handle_));
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

}  // namespace mlptune::cuda
