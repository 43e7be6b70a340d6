// The live view of `mlptune tune`: on a terminal a status line redrawn in place under the events;
// in a log (a file, a pipe: CI, nohup, Slurm) one line per event and the status at most every 30 s.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "mlptune/tune/study.hpp"

namespace mlptune::cli {

// One status line: counts, best so far, time, ETA and what ends the study:
// "[12/40] 10 complete, 1 pruned, 0 failed, 2 running | best 0.0831 (trial 7) | 1m20s, eta 3m10s".
std::string status_line(const tune::StudyProgress& progress);

// The study's progress callback (std::ref(view)). Between calls a thread of its own redraws the
// status every second on a terminal, and logs it every 30 s elsewhere, so the log neither floods
// nor goes silent during long trials.
class LiveView {
 public:
  LiveView();
  ~LiveView();
  LiveView(const LiveView&) = delete;
  LiveView& operator=(const LiveView&) = delete;

  void operator()(const tune::StudyProgress& progress);

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kLogInterval{30};

  void tick();

  const bool terminal_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool closing_ = false;
  bool shown_ = false;  // a progress has come
  tune::StudyProgress last_;
  Clock::time_point last_at_;
  std::thread ticker_;  // last: it starts once every member above exists
};

}  // namespace mlptune::cli
