// RAII owners of CUDA resources: construction checks and throws, destruction logs.
#include "cuda/device_resources.hpp"

#include <cstdint>
#include <cstdio>

#include "cuda/cuda_check.hpp"
#include "cuda/device_flags.hpp"

namespace mlptune::cuda {
namespace {

// A memory pool keeps at most this fraction of its device's memory reserved while unused.
constexpr std::uint64_t kPoolKeepFraction = 8;

}  // namespace

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

namespace {

// make_blocking's calls on one device. initialize() comes first and without a DeviceGuard, whose
// cudaSetDevice would make the context with the default flags; the others make the device current,
// since cudaGetDeviceFlags and cudaSetDeviceFlags act on the current device.
struct RuntimeScheduleFlags {
  int ordinal;

  void initialize() const {
    const cudaError_t status = cudaInitDevice(ordinal, cudaDeviceScheduleBlockingSync, cudaInitDeviceFlagsAreValid);
    if (status == cudaErrorSetOnActiveProcess)
      cudaGetLastError();  // active already: make_blocking reads its flags and sets them
    else
      MLPTUNE_CUDA_CHECK(status);
  }
  bool blocking() const {
    DeviceGuard device(ordinal);
    unsigned int flags = 0;
    MLPTUNE_CUDA_CHECK(cudaGetDeviceFlags(&flags));
    return (flags & cudaDeviceScheduleMask) == cudaDeviceScheduleBlockingSync;
  }
  void set_flags() const {
    DeviceGuard device(ordinal);
    const cudaError_t status = cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync);
    if (status == cudaErrorSetOnActiveProcess)
      cudaGetLastError();  // the driver keeps the active context's schedule: blocking() says so
    else
      MLPTUNE_CUDA_CHECK(status);
  }
};

}  // namespace

void initialize_device(int ordinal) {
  RuntimeScheduleFlags flags{ordinal};
  if (make_blocking(flags) == BlockingSync::refused)
    std::fprintf(stderr,
                 "mlptune: warning: CUDA device %d was already in use with another schedule, which the driver kept: "
                 "threads waiting for the GPU spin instead of sleeping, and many trials at once may run slower "
                 "(start mlptune before anything else in the process uses CUDA)\n",
                 ordinal);
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
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
  {
    DeviceGuard current(device);
    MLPTUNE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  }
  MLPTUNE_CUDA_CHECK(cudaMemPoolCreate(&pool_, &properties));
  // Up to an eighth of the device's memory stays reserved for the next trials when they free it
  // (releasing and mapping again costs time; the default threshold, 0, would release it at every
  // synchronisation); what the pool holds beyond that goes back to the device at the next
  // synchronisation, so another process on the GPU (a second worker, a PyTorch job) can use it.
  std::uint64_t keep = std::uint64_t(total_bytes) / kPoolKeepFraction;
  const cudaError_t status = cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &keep);
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

void DeviceBuffer::clear(cudaStream_t stream) const {
  if (bytes_ > 0) MLPTUNE_CUDA_CHECK(cudaMemsetAsync(data_, 0, bytes_, stream));
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
