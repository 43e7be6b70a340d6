// The CPU thread policy: one trial per core in a study unless the user sets the concurrency, and a
// lone trial on every core only from batch 128 up.
#include "cpu/thread_policy.hpp"

#include <gtest/gtest.h>

namespace mlptune::cpu {
namespace {

TEST(ThreadPolicy, AStudyRunsOneSingleThreadedTrialPerCore) {
  for (int cores : {1, 2, 16, 96}) {
    const CpuTrialPlan plan = plan_cpu_trials(cores, 0);
    EXPECT_EQ(plan.trials_at_once, cores);
    EXPECT_EQ(plan.threads_per_trial, 1);
  }
}

TEST(ThreadPolicy, AUsersConcurrencySharesTheCoresOut) {
  EXPECT_EQ(plan_cpu_trials(16, 4).trials_at_once, 4);
  EXPECT_EQ(plan_cpu_trials(16, 4).threads_per_trial, 4);
  EXPECT_EQ(plan_cpu_trials(16, 3).threads_per_trial, 5);  // whole cores; the rest stays free
  EXPECT_EQ(plan_cpu_trials(2, 1).threads_per_trial, 2);
  EXPECT_EQ(plan_cpu_trials(2, 8).threads_per_trial, 1);  // more trials than cores: one thread each
  EXPECT_EQ(plan_cpu_trials(2, 8).trials_at_once, 8);
  EXPECT_EQ(plan_cpu_trials(0, 0).trials_at_once, 1);  // never no trial
}

TEST(ThreadPolicy, ALoneTrialTakesEveryCoreFromBatch128) {
  EXPECT_EQ(lone_trial_threads(8, 32), 1);
  EXPECT_EQ(lone_trial_threads(8, 127), 1);
  EXPECT_EQ(lone_trial_threads(8, kLoneTrialThreadedBatch), 8);
  EXPECT_EQ(lone_trial_threads(8, 512), 8);
  EXPECT_EQ(lone_trial_threads(0, 512), 1);
}

TEST(ThreadPolicy, ThisProcessHasACore) {
  EXPECT_GE(usable_cores(), 1);
}

}  // namespace
}  // namespace mlptune::cpu
