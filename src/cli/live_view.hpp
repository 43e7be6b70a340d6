// The live view of `mlptune tune`: on a terminal a status line redrawn in place under the events,
// cut to the terminal's width so that it never wraps; in a log (a file, a pipe: CI, nohup, Slurm)
// one line per event and the status at most every 30 s.
#pragma once

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "mlptune/tune/study.hpp"

namespace mlptune::cli {

// How much a status line says: everything, or what matters most when the terminal is narrow
// (counts that are zero, and the words after a time, left out).
enum class StatusLayout { full, compact };

// One status line: counts, the best value of `metric` so far, time, ETA and what ends the study:
// "[12/40] 10 complete, 1 pruned, 0 failed, 2 running | best validation_loss 0.0831 (trial 7) |
// 1m20s, eta 3m10s".
std::string status_line(const tune::StudyProgress& progress, std::string_view metric, StatusLayout layout);

// `line` cut to fit `columns` terminal columns with the last one left free (a character written
// there would wrap on some terminals), counting UTF-8 characters; columns <= 1 leaves it whole.
std::string fit_to_width(const std::string& line, int columns);

// The full status line when it fits `columns`, else the compact one, cut to fit.
std::string status_line_within(const tune::StudyProgress& progress, std::string_view metric, int columns);

// The width of the terminal on stdout: TIOCGWINSZ, else $COLUMNS, else 80.
int terminal_columns();

// The study's progress callback (std::ref(view)). Between calls a thread of its own redraws the
// status every second on a terminal, and logs it every 30 s elsewhere, so the log neither floods
// nor goes silent during long trials. On a terminal the width is read at the start and again after
// each SIGWINCH (a resized window), at the next redraw.
class LiveView {
 public:
  explicit LiveView(std::string metric);
  ~LiveView();
  LiveView(const LiveView&) = delete;
  LiveView& operator=(const LiveView&) = delete;

  void operator()(const tune::StudyProgress& progress);

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kLogInterval{30};

  void tick();
  // Clears the line and draws the status, cut to the terminal's width. Holds mutex_.
  void redraw(const tune::StudyProgress& progress);

  const bool terminal_;
  const std::string metric_;
  struct sigaction previous_resize_action_ {};  // restored when the view closes
  int columns_ = 0;                             // the terminal's width; 0 elsewhere
  std::mutex mutex_;
  std::condition_variable wake_;
  bool closing_ = false;
  bool shown_ = false;  // a progress has come
  tune::StudyProgress last_;
  Clock::time_point last_at_;
  std::thread ticker_;  // last: it starts once every member above exists
};

}  // namespace mlptune::cli
