// How a CUDA trainer issues its training steps, as decisions apart from the CUDA calls (so the
// CPU tests drive them with fakes): captured graphs or eager launches, the fall-back from the one to
// the other when a capture fails, and an epoch's steps issued ahead of the device, stopping soon
// after the trial diverges.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "mlptune/error.hpp"

namespace mlptune::cuda {

enum class StepLaunch { graphs, eager };

// One step shape (a full batch, or the last partial one) and its graph.
template <class Graph>
struct StepGraph {
  Graph graph;             // empty until captured
  bool warmed_up = false;  // its first step ran eagerly
};

// Runs steps through a `Steps` object with
//   void issue_first();          // the shape's first step, eagerly (its kernels load then, outside any capture)
//   void issue();                // one step, eagerly
//   Graph capture();             // one step captured and instantiated, not run; throws DeviceError
//                                // when that fails, with no capture left open
//   void replay(const Graph&);   // one step from the graph
// With graphs, each shape's first step runs eagerly, its second is captured, and every one from the
// second on is replayed. When a capture fails the trainer goes on eagerly for the rest of the epoch
// and tries again at the next (start_epoch); the first failure is kept for one notice; a step is
// never lost (the failed capture ran nothing, so it is issued).
template <class Graph>
class StepLauncher {
 public:
  explicit StepLauncher(StepLaunch launch) : launch_(launch) {}

  StepLaunch launch() const { return launch_; }

  // A trainer that fell back to eager launches captures again from this epoch on: a capture that
  // failed for a passing cause (another context's synchronisation) costs it one epoch's graphs.
  void start_epoch() {
    if (fell_back_) launch_ = StepLaunch::graphs;
  }

  template <class Steps>
  void run(StepGraph<Graph>& step, Steps& steps) {
    if (!step.warmed_up) {
      steps.issue_first();
      step.warmed_up = true;
      return;
    }
    if (launch_ == StepLaunch::graphs && !step.graph) capture(step, steps);
    if (launch_ == StepLaunch::graphs)
      steps.replay(step.graph);
    else
      steps.issue();
  }

  // Why the trainer fell back to eager launches: once, the first time it is asked after the
  // capture failed; nothing before and ever after.
  std::optional<std::string> take_notice() { return std::exchange(notice_, std::nullopt); }

 private:
  template <class Steps>
  void capture(StepGraph<Graph>& step, Steps& steps) {
    try {
      step.graph = steps.capture();
    } catch (const DeviceError& error) {
      launch_ = StepLaunch::eager;
      if (!fell_back_)
        notice_ = std::string(
                      "capturing a training step as a CUDA graph failed, so its steps run eagerly until the next "
                      "epoch captures again (") +
                  error.what() + ")";
      fell_back_ = true;
    }
  }

  StepLaunch launch_;
  bool fell_back_ = false;  // a capture failed: launches are eager until start_epoch
  std::optional<std::string> notice_;
};

// Steps issued between two divergence checks: enough to keep the device busy while the host waits
// for the previous check, few enough that a diverged trial stops soon.
inline constexpr std::int64_t kStepsPerDivergenceCheck = 32;

// Issues an epoch's `count` steps ahead of the device: step(i) issues step i (0-based). After every
// `per_check` steps (but the last), check.request() asks the device whether the trial has diverged
// so far; before asking again, check.diverged() waits for the previous answer, which is a check
// behind, so the device still has up to `per_check` steps queued. Issuing stops at the first answer
// that says so: the trial diverged at step d (0-based) issues at most d + 1 + 2·per_check steps.
// Returns the steps issued.
template <class Step, class Check>
std::int64_t issue_until_diverged(std::int64_t count, std::int64_t per_check, Step&& step, Check& check) {
  bool asked = false;
  for (std::int64_t i = 0; i < count; ++i) {
    step(i);
    const std::int64_t issued = i + 1;
    if (issued % per_check != 0 || issued == count) continue;
    if (asked && check.diverged()) return issued;
    check.request();
    asked = true;
  }
  return count;
}

}  // namespace mlptune::cuda
