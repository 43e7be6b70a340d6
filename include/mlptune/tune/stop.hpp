// Stopping a study gracefully, for whatever reason: a time budget, Ctrl-C (SIGINT), a batch
// scheduler's SIGTERM or a closed terminal's SIGHUP. No trial starts after the stop; each running
// one ends at its next epoch boundary with its state saved, waiting to continue when the study
// runs again.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

namespace mlptune::tune {

enum class StopCause { none, time_budget, interrupt, terminate, hangup };

// Thread-safe and lock-free: request() may be called from any thread (a signal watcher, a test)
// while the study's threads ask cause(). The first cause wins.
class StopRequest {
 public:
  using Clock = std::chrono::steady_clock;

  void request(StopCause cause);
  // The time budget: from now, cause() answers time_budget once `seconds` have passed.
  void stop_after(double seconds);
  // The cause once the stop is requested or the budget spent; none before.
  StopCause cause() const;
  bool requested() const { return cause() != StopCause::none; }
  // Seconds until the budget is spent (0 after); nullopt without a budget.
  std::optional<double> seconds_left() const;
  std::optional<double> budget_seconds() const;
  // Why the study stops, for messages: "the time budget of 10m00s is spent", "Ctrl-C (SIGINT)".
  std::string reason() const;

 private:
  mutable std::atomic<StopCause> cause_{StopCause::none};
  std::atomic<Clock::rep> deadline_{0};  // Clock ticks; 0: no budget
  std::atomic<double> budget_seconds_{0.0};
};

}  // namespace mlptune::tune
