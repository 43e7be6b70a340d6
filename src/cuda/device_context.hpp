// What the CUDA backend keeps per device and shares with its trainers: the process's capture lock
// (one for every device), the stream-ordered memory pool, the datasets
// uploaded once for every trial, and the pool of trial slots (a stream, a cuBLAS handle and pinned
// buffers each), reused from trial to trial so that a trial's start and end synchronise nothing.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "cuda/capture_lock.hpp"
#include "cuda/device_data.hpp"
#include "cuda/device_resources.hpp"
#include "cuda/device_trial.hpp"
#include "cuda/slot_pool.hpp"
#include "mlptune/data.hpp"
#include "nn/metric_sums.hpp"

namespace mlptune::cuda {

// The host side of a slot's small copies, in one page-locked block.
struct HostStaging {
  DeviceTrial record;          // the trial record, to the device at an epoch's start and back at its end
  MetricSums metrics;          // an evaluation's sums
  std::int32_t nonfinite = 0;  // the divergence check's answer
};

// What one trainer at a time uses from its start to its end, made once and lent again and again.
class TrialSlot {
 public:
  // On the current device, with the device held exclusively (cudaStreamCreate, cublasCreate and
  // cudaMallocHost may synchronise it).
  explicit TrialSlot(const MemoryPool& memory);
  TrialSlot(const TrialSlot&) = delete;
  TrialSlot& operator=(const TrialSlot&) = delete;

  cudaStream_t stream() const { return stream_.get(); }
  void synchronize() const { stream_.synchronize(); }
  // Bound to stream(), with its own workspace. The math mode is the lending trainer's to set.
  cublasHandle_t cublas() const { return cublas_.get(); }
  HostStaging& staging() { return *staging_.as<HostStaging>(); }
  // The host waits on it for a divergence check.
  const Event& checked() const { return checked_; }
  // A page-locked table of at least `count` doubles (the epoch's learning rates); when the slot's
  // is smaller it is replaced, with `lock` held exclusively. Not while the stream uses the table.
  double* learning_rates(std::size_t count, CaptureLock& lock);

 private:
  Stream stream_;  // first: destroyed last, after the workspace is freed on it
  DeviceBuffer cublas_workspace_;
  CublasHandle cublas_;
  PinnedBuffer staging_;         // HostStaging
  PinnedBuffer learning_rates_;  // double
  Event checked_;
};

class DeviceContext {
 public:
  // On `ordinal`, current (make_device_context makes it so).
  explicit DeviceContext(int ordinal);
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  int ordinal() const { return ordinal_; }
  // The process's capture lock (process_capture_lock): a synchronisation on any device or context
  // must wait for every capture, not only this device's.
  CaptureLock& capture_lock() { return process_capture_lock(); }
  const MemoryPool& memory() const { return memory_; }
  const SlotPool<TrialSlot>& slots() const { return slots_; }

  // A free slot, or a new one made with the device held exclusively.
  SlotPool<TrialSlot>::Lease acquire_slot();

  // The device copy of `data`, uploaded on first use (stream-ordered from the pool, on a stream of
  // the context's own) and shared by every trainer given the same data. Entries whose host data is
  // gone are dropped; trainers still holding the device copy keep it. The device must be current.
  std::shared_ptr<const DeviceSplits> resident(const std::shared_ptr<const DataSplits>& data);

  // After an allocation failed: hands the pool's unused memory back (with the device held
  // exclusively), so a retry can use memory the pool kept from finished trials.
  void release_unused_memory();

 private:
  struct CachedSplits {
    std::weak_ptr<const DataSplits> host;
    std::shared_ptr<const DeviceSplits> device;
  };

  int ordinal_;
  MemoryPool memory_;
  Stream upload_stream_;  // the shared datasets are uploaded and freed on it
  std::mutex cache_mutex_;
  std::vector<CachedSplits> cache_;  // after upload_stream_: freed before it is destroyed
  SlotPool<TrialSlot> slots_;        // last: destroyed first
};

// A device's context, made and destroyed with its device current (and the caller's current again
// after either), shared by the backend and its trainers: the last one to go destroys it.
std::shared_ptr<DeviceContext> make_device_context(int ordinal);

}  // namespace mlptune::cuda
