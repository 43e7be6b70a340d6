// RAII owners of CUDA resources: construction checks and throws, destruction logs.
#include "cuda/device_resources.hpp"

#include <cstdint>
#include <cstdio>
#include <limits>

#include "cuda/cuda_check.hpp"

namespace mlptune::cuda {

int RuntimeDevices::current() {
  int ordinal = -1;
  MLPTUNE_CUDA_CHECK(cudaGetDevice(&ordinal));
  return ordinal;
}

void RuntimeDevices::make_current(int ordinal) {
  MLPTUNE_CUDA_CHECK(cudaSetDevice(ordinal));
}

void RuntimeDevices::restore(int ordinal) noexcept {
  MLPTUNE_CUDA_LOG(cudaSetDevice(ordinal));
}

void RuntimeDevices::log(const char* message) noexcept {
  std::fprintf(stderr, "mlptune: %s\n", message);
}

void initialize_device(int ordinal) {
  const cudaError_t status = cudaInitDevice(ordinal, cudaDeviceScheduleBlockingSync, cudaInitDeviceFlagsAreValid);
  if (status != cudaErrorSetOnActiveProcess) {
    MLPTUNE_CUDA_CHECK(status);
    return;
  }
  // The context is already active (made by an earlier call with other flags): set the flags on it,
  // which current drivers allow; where the driver refuses again, keep its schedule.
  cudaGetLastError();
  DeviceGuard device(ordinal);
  const cudaError_t again = cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync);
  if (again == cudaErrorSetOnActiveProcess)
    cudaGetLastError();
  else
    MLPTUNE_CUDA_CHECK(again);
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

MemoryPool::MemoryPool(int device) {
  cudaMemPoolProps properties{};
  properties.allocType = cudaMemAllocationTypePinned;
  properties.handleTypes = cudaMemHandleTypeNone;
  properties.location.type = cudaMemLocationTypeDevice;
  properties.location.id = device;
  MLPTUNE_CUDA_CHECK(cudaMemPoolCreate(&pool_, &properties));
  // Keep freed memory for the next trial instead of releasing it at every synchronisation (the
  // default threshold, 0): releasing and mapping again costs time, and trim() returns it on demand.
  std::uint64_t keep_all = std::numeric_limits<std::uint64_t>::max();
  const cudaError_t status = cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &keep_all);
  if (status != cudaSuccess) {
    MLPTUNE_CUDA_LOG(cudaMemPoolDestroy(pool_));
    MLPTUNE_CUDA_CHECK(status);
  }
}

MemoryPool::~MemoryPool() {
  // Memory still allocated from the pool keeps it alive until freed (cudaMemPoolDestroy's contract).
  MLPTUNE_CUDA_LOG(cudaMemPoolDestroy(pool_));
}

void MemoryPool::trim() const {
  MLPTUNE_CUDA_CHECK(cudaMemPoolTrimTo(pool_, 0));
}

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes > 0) MLPTUNE_CUDA_CHECK(cudaMalloc(&data_, bytes));
}

DeviceBuffer::DeviceBuffer(std::size_t bytes, const MemoryPool& pool, cudaStream_t stream)
    : bytes_(bytes), stream_(stream), stream_ordered_(true) {
  if (bytes > 0) MLPTUNE_CUDA_CHECK(cudaMallocFromPoolAsync(&data_, bytes, pool.get(), stream));
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

Event::Event() {
  MLPTUNE_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming | cudaEventBlockingSync));
}

Event::~Event() {
  if (event_ != nullptr) MLPTUNE_CUDA_LOG(cudaEventDestroy(event_));
}

Event& Event::operator=(Event&& other) noexcept {
  if (this != &other) {
    if (event_ != nullptr) MLPTUNE_CUDA_LOG(cudaEventDestroy(event_));
    event_ = std::exchange(other.event_, nullptr);
  }
  return *this;
}

void Event::record(cudaStream_t stream) const {
  MLPTUNE_CUDA_CHECK(cudaEventRecord(event_, stream));
}

void Event::synchronize() const {
  MLPTUNE_CUDA_CHECK(cudaEventSynchronize(event_));
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

void GraphExec::upload(cudaStream_t stream) const {
  MLPTUNE_CUDA_CHECK(cudaGraphUpload(exec_, stream));
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
