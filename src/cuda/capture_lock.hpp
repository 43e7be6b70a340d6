// The process's one lock between CUDA graph captures and the calls that may synchronise a device.
// Plain C++: no CUDA call here (the CPU tests use it as it is).
#pragma once

#include <mutex>
#include <shared_mutex>

namespace mlptune::cuda {

// Graph captures against calls that may synchronise the whole device. Such a synchronisation, from
// any thread, invalidates a capture in progress, even one in thread-local mode; so a capture holds
// this lock shared (any number at once) and the few calls that may synchronise hold it exclusively:
// making a slot or growing its pinned memory, trimming a memory pool, a trainer's first run of each
// pass (CUDA loads kernels on their first launch, and loading may synchronise), instantiating and
// destroying graphs. Everything else a trainer does is stream-ordered.
//
// cudaMallocHost, cudaFreeHost and cublasCreate may synchronise more than their own device (pinned
// memory is mapped into every context), so one lock serves the whole process: every device, and
// every context made for the same device.
class CaptureLock {
 public:
  std::shared_lock<std::shared_mutex> capturing() { return std::shared_lock(mutex_); }
  std::unique_lock<std::shared_mutex> synchronising() { return std::unique_lock(mutex_); }

 private:
  std::shared_mutex mutex_;
};

// The process's capture lock, made on first use.
inline CaptureLock& process_capture_lock() {
  static CaptureLock lock;
  return lock;
}

}  // namespace mlptune::cuda
