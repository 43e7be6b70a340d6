#include "cpu/thread_policy.hpp"

#include <sched.h>

#include <algorithm>
#include <thread>

namespace mlptune::cpu {

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

CpuTrialPlan plan_cpu_trials(int cores, int requested_concurrency) {
  cores = std::max(1, cores);
  if (requested_concurrency > 0) return {requested_concurrency, std::max(1, cores / requested_concurrency)};
  return {cores, 1};
}

int lone_trial_threads(int cores, int batch_size) {
  return batch_size >= kLoneTrialThreadedBatch ? std::max(1, cores) : 1;
}

}  // namespace mlptune::cpu
