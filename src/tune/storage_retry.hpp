// Storage operations tried again while the database is busy (another process's lock) or out of
// reach (a lost connection), with the storage's lock released between tries.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "mlptune/tune/storage.hpp"

namespace mlptune::tune {

// Thrown by one try of a storage operation that may succeed when tried again: `problem` says what
// went wrong, `fix` what the user can do if it lasts.
struct RetryableFailure {
  std::string problem;
  std::string fix;
};

// Tries storage operations again for up to the retry window of an outage. The window starts at the
// first failed try of any operation and ends at the first success, so that every thread of the
// process (a trial's values, the heartbeat, a claim) gives up at the same time while the database
// stays out of reach, and none waits longer than the window. The first retry of an outage is
// reported once through the notice, with what is tried and for how long; the recovery too.
class StorageRetry {
 public:
  StorageRetry(std::string location, RetryOptions options);

  // Runs `attempt` until it returns without throwing RetryableFailure; then StorageError naming the
  // location, the problem and the fix. `what` says what it does ("storing trial 3's value after
  // epoch 5"). `attempt` takes the storage's lock itself, so that the lock is free between tries.
  void run(const std::string& what, const std::function<void()>& attempt);

  double window_seconds() const { return options_.window_seconds; }

 private:
  using Clock = std::chrono::steady_clock;
  void failed(const std::string& what, const RetryableFailure& failure, bool& retrying);
  void succeeded(bool retried);

  std::string location_;
  RetryOptions options_;
  std::mutex mutex_;
  std::optional<Clock::time_point> outage_since_;  // the first failed try of the outage
  int retrying_ = 0;                               // operations that failed in it and try again
};

}  // namespace mlptune::tune
