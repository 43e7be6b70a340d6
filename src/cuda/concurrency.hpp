// How many trials one CUDA device runs at once, and the hardware work queues that takes
// (CUDA_DEVICE_MAX_CONNECTIONS). Plain C++: no CUDA call here.
#pragma once

namespace mlptune::cuda {

// CUDA_DEVICE_MAX_CONNECTIONS: CUDA's default, and the documented maximum (1 to 32).
inline constexpr int kDefaultConnections = 8;
inline constexpr int kMaxConnections = 32;
// One trial is a chain of small dependent kernels that fills a few SMs: about one trial per 8 SMs
// (16 on a 132-SM H100) is worth running at once.
inline constexpr int kSmsPerTrial = 8;

// The connections in effect when CUDA_DEVICE_MAX_CONNECTIONS is `value` (null: unset): a whole
// number in [1, 32] as given, a larger one as 32, anything else as CUDA's default 8.
int connections_for(const char* value);

// Trials worth running at once on `multiprocessors` SMs, at most one per connection: streams beyond
// the connections would share hardware queues and serialise behind each other.
int recommended_concurrency(int multiprocessors, int connections);

// Sets CUDA_DEVICE_MAX_CONNECTIONS to 32 unless it is set (a user's value is kept) and returns the
// connections in effect. CUDA reads it when it starts, so this runs before the process's first CUDA
// call, while no other thread reads the environment (the backend calls it first thing).
int prepare_connections();

}  // namespace mlptune::cuda
