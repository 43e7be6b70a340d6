// Ctrl-C (SIGINT) and SIGTERM while a study runs: the first asks it to stop gracefully (no trial
// starts; running ones end after their current epoch, saved); a second ends the program at once,
// leaving the database as kill -9 would (consistent; trials continue from their last checkpoint).
#pragma once

#include <signal.h>

#include <memory>
#include <thread>

#include "mlptune/tune/stop.hpp"

namespace mlptune::cli {

// While it lives, SIGINT and SIGTERM go to `stop`. The handler only writes the signal's number to
// a pipe (async-signal-safe); a thread of its own reads it and does the rest. One at a time.
class StopSignals {
 public:
  explicit StopSignals(std::shared_ptr<tune::StopRequest> stop);
  ~StopSignals();  // restores the handlers there were before
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  void watch();

  std::shared_ptr<tune::StopRequest> stop_;
  int pipe_[2] = {-1, -1};
  struct sigaction previous_interrupt_ = {};
  struct sigaction previous_terminate_ = {};
  std::thread watcher_;
};

// The exit status of a program ended by `cause`, as a shell reports a signal: 130 for SIGINT,
// 143 for SIGTERM; 0 for a time budget or no stop.
int exit_status_for(tune::StopCause cause);

}  // namespace mlptune::cli
