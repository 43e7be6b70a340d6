// The live view: events and a status line, redrawn on a terminal, logged at intervals elsewhere.
#include "cli/live_view.hpp"

#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "cli/text.hpp"

namespace mlptune::cli {

std::string status_line(const tune::StudyProgress& progress) {
  std::string line = progress.run_cap > 0 ? format("[%d/%d]", progress.done(), progress.run_cap)
                                          : format("[%d, no run_cap]", progress.done());
  line += format(" %d complete, %d pruned, %d failed, %d running", progress.complete, progress.pruned, progress.failed,
                 progress.running);
  if (progress.paused > 0) line += format(", %d paused", progress.paused);
  if (progress.best_value) line += format(" | best %.5g (trial %d)", *progress.best_value, progress.best_number);
  line += " | " + duration(progress.elapsed_seconds);
  if (progress.stopping) return line + ", stopping at the running trials' epoch ends";
  if (progress.eta_seconds) line += ", eta " + duration(*progress.eta_seconds);
  if (progress.seconds_left) return line + ", " + duration(*progress.seconds_left) + " left of the timeout";
  if (progress.run_cap == 0) line += ", runs until Ctrl-C";
  return line;
}

LiveView::LiveView() : terminal_(isatty(STDOUT_FILENO) != 0), ticker_([this] { tick(); }) {}

LiveView::~LiveView() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  wake_.notify_all();
  ticker_.join();
  if (terminal_ && shown_) std::cout << "\n";
}

void LiveView::operator()(const tune::StudyProgress& progress) {
  std::lock_guard lock(mutex_);
  last_ = progress;
  last_at_ = Clock::now();
  shown_ = true;
  if (terminal_) {
    std::cout << "\r\033[K";
    if (!progress.event.empty()) std::cout << progress.event << "\n";
    std::cout << status_line(progress) << std::flush;
  } else if (!progress.event.empty()) {
    std::cout << progress.event << std::endl;
  }
}

// The last status, aged by the time since it came: redrawn every second on a terminal, logged
// every kLogInterval elsewhere.
void LiveView::tick() {
  std::unique_lock lock(mutex_);
  auto last_logged = Clock::now();
  while (!wake_.wait_for(lock, std::chrono::seconds(1), [this] { return closing_; })) {
    if (!shown_) continue;
    const auto now = Clock::now();
    if (!terminal_ && now - last_logged < kLogInterval) continue;
    last_logged = now;
    tune::StudyProgress aged = last_;
    const double since = std::chrono::duration<double>(now - last_at_).count();
    aged.elapsed_seconds += since;
    if (aged.seconds_left) aged.seconds_left = std::max(0.0, *aged.seconds_left - since);
    if (aged.eta_seconds) aged.eta_seconds = std::max(0.0, *aged.eta_seconds - since);
    if (terminal_)
      std::cout << "\r\033[K" << status_line(aged) << std::flush;
    else
      std::cout << status_line(aged) << std::endl;
  }
}

}  // namespace mlptune::cli
