// How the CPU backend shares the cores out: whole trials side by side, or one trial's matrix
// products on several threads. Measured on a 2-core AMD EPYC (scripts/bench-cpu, MNIST): two
// 1-thread trials ran at 2.0-2.1x the samples/s of one, while OpenBLAS's own threads gave one trial
// 1.0x-1.3x at batch 32 and 64 (784-64-10 at batch 32 once ran 40% slower on 2 threads than on 1)
// and 1.4x-1.65x at batch 128 to 512. So a study runs one trial per core, each on one thread, and a
// lone trial takes every core only when its batch is large enough to gain from them.
//
// The thread count of a trial never changes while it runs: OpenBLAS's results differ in the last
// bits between thread counts, and a trial repeats bit for bit only at the same count.
#pragma once

namespace mlptune::cpu {

// The cores this process may run on (its affinity mask: taskset, cgroups, a batch scheduler's
// allocation), at least 1.
int usable_cores();

struct CpuTrialPlan {
  int trials_at_once = 1;
  int threads_per_trial = 1;
};

// A study's trials on `cores` cores: `requested_concurrency` trials at once if the user set it
// (> 0), the cores shared among them; else one trial per core.
CpuTrialPlan plan_cpu_trials(int cores, int requested_concurrency);

// BLAS threads for one trial that has the machine to itself and no thread count of the user's:
// every core from batch kLoneTrialThreadedBatch up, else one.
inline constexpr int kLoneTrialThreadedBatch = 128;
int lone_trial_threads(int cores, int batch_size);

}  // namespace mlptune::cpu
