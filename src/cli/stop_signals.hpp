// Ctrl-C (SIGINT), SIGTERM and SIGHUP while a study runs: the first asks it to stop gracefully
// (no trial starts; running ones end after their current epoch, saved); a second ends the program
// at once, leaving the database as kill -9 would (consistent; trials continue from their last
// checkpoint). And a standard output that closes (`mlptune tune ... | head -1`) ends nothing.
#pragma once

#include <signal.h>

#include <atomic>
#include <memory>
#include <streambuf>
#include <thread>

#include "mlptune/tune/stop.hpp"

namespace mlptune::cli {

// While it lives, SIGINT, SIGTERM and SIGHUP (a closed terminal, a dropped ssh connection) go to
// `stop`; a signal that was ignored when it started (nohup, a script's background job) stays so. The handler only
// writes the signal's number to a pipe (async-signal-safe); a thread of its own reads it and does the rest. One at a
// time.
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
  struct sigaction previous_hangup_ = {};
  std::thread watcher_;
};

// The exit status of a program ended by `cause`, as a shell reports a signal: 130 for SIGINT,
// 143 for SIGTERM, 129 for SIGHUP; 0 for a time budget or no stop.
int exit_status_for(tune::StopCause cause);

// While it lives, a standard output that can no longer be written (its reader quit: EPIPE, or its
// terminal closed: EIO) ends nothing: SIGPIPE is ignored, std::cout's text goes to stdout through
// stdio until a write fails, then the failure is said once on stderr and the rest is dropped, so
// that a study goes on training. One for the whole program, made first thing in main.
class ClosedOutputTolerance {
 public:
  ClosedOutputTolerance();
  ~ClosedOutputTolerance();  // flushes, and gives std::cout its own buffer back
  ClosedOutputTolerance(const ClosedOutputTolerance&) = delete;
  ClosedOutputTolerance& operator=(const ClosedOutputTolerance&) = delete;

 private:
  // std::cout's bytes to stdio's stdout (its lock makes writes from several threads whole).
  class Buffer : public std::streambuf {
   protected:
    int_type overflow(int_type byte) override;
    std::streamsize xsputn(const char* bytes, std::streamsize count) override;
    int sync() override;

   private:
    void check_written();
    std::atomic<bool> closed_{false};
  };

  Buffer buffer_;
  std::streambuf* previous_ = nullptr;
};

}  // namespace mlptune::cli
