// The live view: events and a status line, redrawn on a terminal, logged at intervals elsewhere.
#include "cli/live_view.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <iostream>

#include "cli/text.hpp"

namespace mlptune::cli {
namespace {

constexpr int kFallbackColumns = 80;  // a terminal that tells no width

// Set by SIGWINCH, taken by the next redraw.
std::atomic<bool> resized{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void note_resize(int) {
  resized.store(true);
}

}  // namespace

std::string status_line(const tune::StudyProgress& progress, std::string_view metric, StatusLayout layout) {
  const bool compact = layout == StatusLayout::compact;
  std::string line = progress.run_cap > 0 ? format("[%d/%d]", progress.done(), progress.run_cap)
                                          : format("[%d, no run_cap]", progress.done());
  line += format(" %d complete", progress.complete);
  const std::pair<int, const char*> counts[] = {
      {progress.pruned, "pruned"}, {progress.failed, "failed"}, {progress.running, "running"}};
  for (const auto& [count, what] : counts)
    if (!compact || count > 0) line += format(", %d %s", count, what);
  if (progress.paused > 0) line += format(", %d paused", progress.paused);
  if (progress.best_value)
    line += " | best " + std::string(metric) + format(" %.5g (trial %d)", *progress.best_value, progress.best_number);
  line += " | " + duration(progress.elapsed_seconds);
  if (progress.stopping) return line + (compact ? ", stopping" : ", stopping at the running trials' epoch ends");
  if (progress.eta_seconds) line += ", eta " + duration(*progress.eta_seconds);
  if (progress.seconds_left)
    return line + ", " + duration(*progress.seconds_left) + (compact ? " left" : " left of the timeout");
  if (progress.run_cap == 0 && !compact) line += ", runs until Ctrl-C";
  return line;
}

std::string status_line_within(const tune::StudyProgress& progress, std::string_view metric, int columns) {
  std::string line = status_line(progress, metric, StatusLayout::full);
  if (fit_to_width(line, columns).size() < line.size())
    line = fit_to_width(status_line(progress, metric, StatusLayout::compact), columns);
  return line;
}

std::string fit_to_width(const std::string& line, int columns) {
  if (columns <= 1) return line;
  const auto room = std::size_t(columns - 1);
  std::size_t characters = 0;
  for (std::size_t at = 0; at < line.size(); ++at) {
    const bool starts_character = (static_cast<unsigned char>(line[at]) & 0xC0) != 0x80;
    if (starts_character && characters++ == room) return line.substr(0, at);
  }
  return line;
}

int terminal_columns() {
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* text = std::getenv("COLUMNS")) {
    const std::string_view digits(text);
    int columns = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), columns);
    if (error == std::errc() && end == digits.data() + digits.size() && columns > 0) return columns;
  }
  return kFallbackColumns;
}

LiveView::LiveView(std::string metric) : terminal_(isatty(STDOUT_FILENO) != 0), metric_(std::move(metric)) {
  if (terminal_) {
    struct sigaction action {};
    action.sa_handler = note_resize;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // a resize interrupts no read or write
    sigaction(SIGWINCH, &action, &previous_resize_action_);
    columns_ = terminal_columns();
  }
  ticker_ = std::thread([this] { tick(); });
}

LiveView::~LiveView() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  wake_.notify_all();
  ticker_.join();
  if (terminal_) sigaction(SIGWINCH, &previous_resize_action_, nullptr);
  if (terminal_ && shown_) std::cout << "\n";
}

void LiveView::redraw(const tune::StudyProgress& progress) {
  if (resized.exchange(false)) columns_ = terminal_columns();
  std::cout << "\r\033[K" << status_line_within(progress, metric_, columns_) << std::flush;
}

void LiveView::operator()(const tune::StudyProgress& progress) {
  std::lock_guard lock(mutex_);
  last_ = progress;
  last_at_ = Clock::now();
  shown_ = true;
  if (terminal_) {
    if (!progress.event.empty()) std::cout << "\r\033[K" << progress.event << "\n";
    redraw(progress);
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
      redraw(aged);
    else
      std::cout << status_line(aged, metric_, StatusLayout::full) << std::endl;
  }
}

}  // namespace mlptune::cli
