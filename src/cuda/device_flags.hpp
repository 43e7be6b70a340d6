// How a device's primary context is made to block waiting threads (cudaDeviceScheduleBlockingSync),
// as a decision apart from the CUDA calls, so the CPU tests drive it with a fake. No CUDA here.
#pragma once

namespace mlptune::cuda {

// Where the schedule ended up.
enum class BlockingSync {
  set,      // the context blocks waiting threads
  refused,  // it was active under another schedule, and the driver kept that one
};

// Asks for a blocking schedule, then reads back what the context has, through an `Api` with
//   void initialize();        // cudaInitDevice with the blocking flag; an already active context
//                             // (cudaErrorSetOnActiveProcess) is no error here
//   bool blocking() const;    // cudaGetDeviceFlags says the schedule is blocking
//   void set_flags();         // cudaSetDeviceFlags with the blocking flag; refusal is no error
// A context made active earlier (by this process's first CUDA call elsewhere, or by a library) may
// keep its flags through initialize(): the flags are then set on it, and read back again.
template <class Api>
BlockingSync make_blocking(Api& api) {
  api.initialize();
  if (api.blocking()) return BlockingSync::set;
  api.set_flags();
  return api.blocking() ? BlockingSync::set : BlockingSync::refused;
}

}  // namespace mlptune::cuda
