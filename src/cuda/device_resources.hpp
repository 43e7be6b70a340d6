// RAII owners of CUDA resources: device and pinned memory, memory pools, streams, events, graphs
// and cuBLAS handles. All are move-only; copying device memory takes an explicit call (no
// performance accidents).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "cuda/device_scope.hpp"

namespace mlptune::cuda {

// The device API of the CUDA runtime, for BasicDeviceGuard and OnDevice (cudaGetDevice and
// cudaSetDevice, checked).
struct RuntimeDevices {
  static int current();
  static void make_current(int ordinal);
  static void restore(int ordinal) noexcept;
  static void log(const char* message) noexcept;
};

// Makes `ordinal` the calling thread's current device for the guard's lifetime.
using DeviceGuard = BasicDeviceGuard<RuntimeDevices>;

// Initialises `ordinal`'s primary context so that a thread waiting for the device blocks instead of
// spinning (cudaDeviceScheduleBlockingSync): with many trials' threads waiting in
// cudaStreamSynchronize, spinning ones would starve those launching work. The flags are read back
// (cudaGetDeviceFlags) and, where an active context kept others, set on it (cudaSetDeviceFlags);
// where the driver keeps them even so, a warning says so and the context is left as it is.
void initialize_device(int ordinal);

// A non-blocking stream (no implicit synchronisation with the legacy default stream).
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(Stream&& other) noexcept : stream_(std::exchange(other.stream_, nullptr)) {}
  Stream& operator=(Stream&& other) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  cudaStream_t get() const { return stream_; }
  void synchronize() const;

 private:
  cudaStream_t stream_ = nullptr;
};

// A stream-ordered memory pool on one device (cudaMemPoolCreate), keeping the memory freed to it
// for reuse, up to an eighth of the device's memory: beyond that, it goes back to the device at the
// next synchronisation, for other processes on the GPU.
class MemoryPool {
 public:
  explicit MemoryPool(int device);
  ~MemoryPool();
  MemoryPool(const MemoryPool&) = delete;
  MemoryPool& operator=(const MemoryPool&) = delete;

  cudaMemPool_t get() const { return pool_; }
  // Hands the pool's unused memory back to the device (cudaMemPoolTrimTo 0).
  void trim() const;

 private:
  cudaMemPool_t pool_ = nullptr;
};

// Device memory. From a memory pool, stream-ordered (cudaMallocFromPoolAsync on `stream`, freed with
// cudaFreeAsync on the same stream, which must then outlive the buffer): what a trainer allocates.
// Without a pool, cudaMalloc and cudaFree, which may synchronise the whole device: for tests only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  DeviceBuffer(std::size_t bytes, const MemoryPool& pool, cudaStream_t stream);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  // Every byte zero, stream-ordered on `stream` (one cudaMemsetAsync).
  void clear(cudaStream_t stream) const;
  template <class T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  void release() noexcept;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  cudaStream_t stream_ = nullptr;
  bool stream_ordered_ = false;
};

// An event for the host to wait on (no timing; the waiting thread blocks).
class Event {
 public:
  Event();
  ~Event();
  Event(Event&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}
  Event& operator=(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void record(cudaStream_t stream) const;
  void synchronize() const;

 private:
  cudaEvent_t event_ = nullptr;
};

// Page-locked host memory, so asynchronous copies are truly asynchronous. cudaMallocHost and
// cudaFreeHost may synchronise the whole device: trainers take theirs from their slot.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  std::size_t bytes() const { return bytes_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// A captured graph, instantiated for replay.
class GraphExec {
 public:
  GraphExec() = default;
  // Takes ownership of `graph` (destroyed once instantiated).
  explicit GraphExec(cudaGraph_t graph);
  ~GraphExec();
  GraphExec(GraphExec&& other) noexcept : exec_(std::exchange(other.exec_, nullptr)) {}
  GraphExec& operator=(GraphExec&& other) noexcept;
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;

  explicit operator bool() const { return exec_ != nullptr; }
  // Copies the graph's launch data to the device ahead of its first launch.
  void upload(cudaStream_t stream) const;
  void launch(cudaStream_t stream) const;

 private:
  cudaGraphExec_t exec_ = nullptr;
};

// A cuBLAS handle bound to one stream, with its own workspace (so graph capture needs no
// allocation and two handles never share scratch memory). cublasCreate and cublasDestroy
// synchronise the whole device: trainers use their slot's handle.
class CublasHandle {
 public:
  CublasHandle(cudaStream_t stream, void* workspace, std::size_t workspace_bytes);
  ~CublasHandle();
  CublasHandle(CublasHandle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  CublasHandle& operator=(CublasHandle&& other) noexcept;
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;

  cublasHandle_t get() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
};

}  // namespace mlptune::cuda
