// The step-launching decisions of the CUDA trainer over fake launches: graphs are captured once
// per shape after an eager first step and then replayed; a capture that fails turns the trainer to
// eager launches until its next epoch captures again, loses no step and is reported exactly once;
// and an epoch's steps stop soon after the device reports a divergence, never waiting for a check
// not yet asked.
#include "cuda/step_launch.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

#include "mlptune/error.hpp"

namespace mlptune::cuda {
namespace {

// A graph of the fake: which capture made it (0: none).
struct FakeGraph {
  int id = 0;
  explicit operator bool() const { return id != 0; }
};

// Records every launch; capture() fails while `failures` is positive (with DeviceError, or with
// another exception when `other_error`).
struct FakeSteps {
  std::vector<std::string> launches;
  int captures = 0;
  int failures = 0;
  bool other_error = false;

  void issue_first() { launches.push_back("first"); }
  void issue() { launches.push_back("eager"); }
  FakeGraph capture() {
    ++captures;
    if (failures > 0) {
      --failures;
      if (other_error) throw std::logic_error("a bug");
      throw DeviceError(
          "CUDA error cudaErrorStreamCaptureInvalidated: operation failed due to a previous error "
          "during capture");
    }
    return FakeGraph{captures};
  }
  void replay(const FakeGraph& graph) { launches.push_back("replay " + std::to_string(graph.id)); }
};

using Launcher = StepLauncher<FakeGraph>;

TEST(StepLauncher, WarmsUpThenCapturesOnceAndReplays) {
  Launcher launcher(StepLaunch::graphs);
  StepGraph<FakeGraph> full;
  StepGraph<FakeGraph> last;
  FakeSteps steps;
  for (int epoch = 0; epoch < 2; ++epoch) {
    for (int i = 0; i < 3; ++i) launcher.run(full, steps);
    launcher.run(last, steps);
  }
  EXPECT_EQ(steps.launches, (std::vector<std::string>{"first", "replay 1", "replay 1", "first", "replay 1", "replay 1",
                                                      "replay 1", "replay 2"}));
  EXPECT_EQ(steps.captures, 2);  // one per shape
  EXPECT_EQ(launcher.launch(), StepLaunch::graphs);
  EXPECT_FALSE(launcher.take_notice());
}

TEST(StepLauncher, EagerModeNeverCaptures) {
  Launcher launcher(StepLaunch::eager);
  StepGraph<FakeGraph> full;
  FakeSteps steps;
  for (int i = 0; i < 4; ++i) launcher.run(full, steps);
  EXPECT_EQ(steps.launches, (std::vector<std::string>{"first", "eager", "eager", "eager"}));
  EXPECT_EQ(steps.captures, 0);
  EXPECT_FALSE(launcher.take_notice());
}

// The first capture fails: that step runs eagerly (it is not lost), so do all later ones of both
// shapes in the epoch, nothing is captured again in it, and the notice comes once, with the cause.
TEST(StepLauncher, AFailedCaptureFallsBackToEagerAndIsReportedOnce) {
  Launcher launcher(StepLaunch::graphs);
  StepGraph<FakeGraph> full;
  StepGraph<FakeGraph> last;
  FakeSteps steps;
  steps.failures = 1;
  launcher.run(full, steps);
  EXPECT_FALSE(launcher.take_notice());  // nothing failed yet
  launcher.run(full, steps);
  EXPECT_EQ(launcher.launch(), StepLaunch::eager);
  for (int i = 0; i < 3; ++i) launcher.run(full, steps);
  launcher.run(last, steps);
  launcher.run(last, steps);
  EXPECT_EQ(steps.launches, (std::vector<std::string>{"first", "eager", "eager", "eager", "eager", "first", "eager"}));
  EXPECT_EQ(steps.captures, 1);
  const std::optional<std::string> notice = launcher.take_notice();
  ASSERT_TRUE(notice);
  EXPECT_NE(notice->find("run eagerly"), std::string::npos) << *notice;
  EXPECT_NE(notice->find("cudaErrorStreamCaptureInvalidated"), std::string::npos) << *notice;
  EXPECT_FALSE(launcher.take_notice());  // once
  launcher.run(full, steps);
  EXPECT_FALSE(launcher.take_notice());
}

// A capture that fails on the second shape only: the first shape's graph is not used for the rest
// of the epoch either (the trainer is eager until its next epoch).
TEST(StepLauncher, AFailureOnTheOtherShapeStopsEveryReplay) {
  Launcher launcher(StepLaunch::graphs);
  StepGraph<FakeGraph> full;
  StepGraph<FakeGraph> last;
  FakeSteps steps;
  launcher.run(full, steps);
  launcher.run(full, steps);
  launcher.run(last, steps);
  steps.failures = 1;
  launcher.run(last, steps);
  launcher.run(full, steps);
  EXPECT_EQ(steps.launches, (std::vector<std::string>{"first", "replay 1", "first", "eager", "eager"}));
  EXPECT_TRUE(launcher.take_notice());
}

// A capture that fails costs the rest of its epoch: the next epoch captures again and replays from
// then on (the other shape's graph, made before the failure, is replayed again too). A failure
// that repeats is reported only the first time.
TEST(StepLauncher, AfterAFallBackTheNextEpochCapturesAgain) {
  Launcher launcher(StepLaunch::graphs);
  StepGraph<FakeGraph> full;
  StepGraph<FakeGraph> last;
  FakeSteps steps;
  launcher.start_epoch();
  launcher.run(last, steps);
  launcher.run(last, steps);  // captured: graph 1
  launcher.run(full, steps);
  steps.failures = 1;
  launcher.run(full, steps);  // the capture fails: eager for this epoch
  launcher.run(full, steps);
  launcher.run(last, steps);
  EXPECT_TRUE(launcher.take_notice());
  launcher.start_epoch();
  EXPECT_EQ(launcher.launch(), StepLaunch::graphs);
  launcher.run(full, steps);  // captured again: graph 3
  launcher.run(full, steps);
  launcher.run(last, steps);
  EXPECT_EQ(steps.launches, (std::vector<std::string>{"first", "replay 1", "first", "eager", "eager", "eager",
                                                      "replay 3", "replay 3", "replay 1"}));
  EXPECT_EQ(steps.captures, 3);
  steps.failures = 1;
  StepGraph<FakeGraph> other;
  launcher.run(other, steps);
  launcher.run(other, steps);  // fails again: eager again, and no second notice
  EXPECT_EQ(launcher.launch(), StepLaunch::eager);
  EXPECT_FALSE(launcher.take_notice());
}

// A trainer told to launch eagerly stays eager at every epoch.
TEST(StepLauncher, EagerModeStaysEagerAcrossEpochs) {
  Launcher launcher(StepLaunch::eager);
  StepGraph<FakeGraph> full;
  FakeSteps steps;
  for (int epoch = 0; epoch < 2; ++epoch) {
    launcher.start_epoch();
    launcher.run(full, steps);
    launcher.run(full, steps);
  }
  EXPECT_EQ(steps.captures, 0);
  EXPECT_EQ(launcher.launch(), StepLaunch::eager);
}

// Only device failures fall back: anything else is a bug and fails the trial.
TEST(StepLauncher, OtherErrorsPropagate) {
  Launcher launcher(StepLaunch::graphs);
  StepGraph<FakeGraph> full;
  FakeSteps steps;
  steps.failures = 1;
  steps.other_error = true;
  launcher.run(full, steps);
  EXPECT_THROW(launcher.run(full, steps), std::logic_error);
  EXPECT_EQ(launcher.launch(), StepLaunch::graphs);
  EXPECT_FALSE(launcher.take_notice());
}

// A device that runs `lag` checks behind the host: request() records the answer the device will
// give (diverged iff a step issued before it diverged); diverged() takes the oldest answer.
struct FakeChecks {
  std::int64_t diverging_step = -1;  // 0-based; -1: never
  std::int64_t issued = 0;
  std::deque<bool> pending;
  int requests = 0;
  int waits = 0;

  void request() {
    pending.push_back(diverging_step >= 0 && diverging_step < issued);
    ++requests;
  }
  bool diverged() {
    if (pending.empty()) throw std::logic_error("waited for a check that was never asked");
    ++waits;
    const bool answer = pending.front();
    pending.pop_front();
    return answer;
  }
};

std::int64_t run_epoch(std::int64_t count, std::int64_t per_check, FakeChecks& checks) {
  return issue_until_diverged(
      count, per_check,
      [&](std::int64_t i) {
        EXPECT_EQ(i, checks.issued);  // in order, none skipped
        ++checks.issued;
      },
      checks);
}

TEST(IssueUntilDiverged, AFiniteEpochIssuesEveryStep) {
  for (const std::int64_t count : {1, 31, 32, 33, 64, 509}) {
    SCOPED_TRACE("steps " + std::to_string(count));
    FakeChecks checks;
    EXPECT_EQ(run_epoch(count, 32, checks), count);
    EXPECT_EQ(checks.issued, count);
    EXPECT_EQ(checks.requests, int((count - 1) / 32));  // after every 32 but the last
    EXPECT_EQ(checks.waits, std::max(0, checks.requests - 1));
  }
}

// Divergence at step d: issuing stops within two checks after it, and never before it.
TEST(IssueUntilDiverged, ADivergedTrialStopsSoonAfter) {
  constexpr std::int64_t kPerCheck = 32;
  for (const std::int64_t diverging : {0, 1, 31, 32, 100, 4000}) {
    SCOPED_TRACE("diverged at step " + std::to_string(diverging));
    FakeChecks checks;
    checks.diverging_step = diverging;
    const std::int64_t issued = run_epoch(10000, kPerCheck, checks);
    EXPECT_EQ(issued, checks.issued);
    EXPECT_GT(issued, diverging);
    EXPECT_LE(issued, diverging + 1 + 2 * kPerCheck);
    EXPECT_LT(issued, 10000);
  }
}

TEST(IssueUntilDiverged, ADivergenceInTheLastStepsIsLeftToTheEpochsEnd) {
  FakeChecks checks;
  checks.diverging_step = 95;
  EXPECT_EQ(run_epoch(100, 32, checks), 100);  // the trainer reads the flag at the epoch's end
}

}  // namespace
}  // namespace mlptune::cuda
