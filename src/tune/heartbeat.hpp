// The heartbeat of a process's running trials, refreshed on a thread of its own at a fixed
// interval, so that a trial whose epochs take longer than the grace period still shows it is alive
// (epoch reports refresh it too, but an epoch may take minutes).
#pragma once

#include <functional>
#include <string>

#include "common/periodic_thread.hpp"
#include "common/value_range.hpp"
#include "mlptune/tune/storage.hpp"

namespace mlptune::tune {

// Default interval of the heartbeat, and the grace period, as a multiple of it, after which
// another host's running trial counts as abandoned.
inline constexpr double kHeartbeatIntervalSeconds = 10.0;
inline constexpr double kStaleAfterHeartbeats = 3.0;
// The intervals --heartbeat-interval accepts: more than none, at most an hour.
inline constexpr Range kHeartbeatIntervalRange{0.0, false, 3600.0, true};
// The grace periods --stale-after accepts: more than none, at most a day.
inline constexpr Range kStaleAfterRange{0.0, false, 86400.0, true};
// How often an abandoned trial may run again (--max-retries): none to a thousand times.
inline constexpr Range kMaxRetriesRange{0.0, true, 1000.0, true};

class Heartbeat {
 public:
  // Calls storage.heartbeat(owner), then `after_beat` (when given), every `interval_seconds` (> 0)
  // until destroyed. A failed refresh is reported through `warn` (once until a refresh succeeds
  // again) and retried at the next beat: a database that went away for a while costs no trial.
  Heartbeat(Storage& storage, TrialOwner owner, double interval_seconds, std::function<void(const std::string&)> warn,
            std::function<void()> after_beat = {});
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

 private:
  void beat();

  Storage& storage_;
  TrialOwner owner_;
  double interval_seconds_;
  std::function<void(const std::string&)> warn_;
  std::function<void()> after_beat_;
  bool failing_ = false;   // the last refresh failed (used on the thread only)
  PeriodicThread thread_;  // last: it starts once every member above exists, and stops first
};

}  // namespace mlptune::tune
