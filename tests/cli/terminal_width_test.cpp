// The live view on a terminal: `mlptune tune` run on a pseudo-terminal that the test opens, at a
// given width, its status redraws checked never to reach the last column (where they would wrap).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "cli/cli_test_support.hpp"

namespace {

using namespace mlptune::testing;
using Clock = std::chrono::steady_clock;

// A study of many fast trials on iris that a 3 s timeout ends: every status line names the metric,
// counts up to four digits and the time left, more than 80 columns in full.
constexpr const char* kStudy =
    "method: random\n"
    "metric: {name: validation_accuracy, goal: maximize}\n"
    "run_cap: 5000\n"
    "parameters:\n"
    "  lr: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0e-1}\n"
    "  hidden: {values: [\"8\", \"16\"]}\n"
    "  epochs: {value: 1}\n"
    "mlptune: {dataset: iris, backend: cpu, concurrency: 2}\n";

void set_width(int terminal, int columns) {
  winsize size{};
  size.ws_row = 24;
  size.ws_col = static_cast<unsigned short>(columns);
  ASSERT_EQ(::ioctl(terminal, TIOCSWINSZ, &size), 0);
}

// What `mlptune ARGS...` writes to a new pseudo-terminal `columns` wide, its stdout and stderr.
// `watch` sees the output so far after each read, with the terminal's controlling side to resize.
struct TerminalRun {
  std::string output;
  int status = -1;
};
TerminalRun run_on_terminal(const std::vector<std::string>& args, int columns,
                            const std::function<void(int terminal, const std::string& output)>& watch = {}) {
  TerminalRun run;
  const int terminal = ::posix_openpt(O_RDWR | O_NOCTTY);
  EXPECT_GE(terminal, 0);
  EXPECT_EQ(::grantpt(terminal), 0);
  EXPECT_EQ(::unlockpt(terminal), 0);
  const std::string side = ::ptsname(terminal);
  set_width(terminal, columns);
  const pid_t child = ::fork();
  if (child == 0) {
    ::setsid();  // a session of its own, whose controlling terminal the pseudo-terminal becomes
    const int tty = ::open(side.c_str(), O_RDWR);
    ::ioctl(tty, TIOCSCTTY, 0);
    for (int stream : {0, 1, 2}) ::dup2(tty, stream);
    ::close(terminal);
    ::unsetenv("COLUMNS");  // the width comes from the terminal
    std::vector<char*> argv{const_cast<char*>("mlptune")};
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(MLPTUNE_BINARY, argv.data());
    ::_exit(127);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  char buffer[4096];
  while (Clock::now() < deadline) {
    pollfd ready{terminal, POLLIN, 0};
    if (::poll(&ready, 1, 100) <= 0) continue;
    const ssize_t got = ::read(terminal, buffer, sizeof buffer);
    if (got <= 0) break;  // EIO: every process has closed the terminal
    run.output.append(buffer, std::size_t(got));
    if (watch) watch(terminal, run.output);
  }
  int status = 0;
  if (Clock::now() >= deadline) ::kill(child, SIGKILL);
  ::waitpid(child, &status, 0);
  ::close(terminal);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// The status lines drawn: what follows a "clear the line" code up to the next carriage return or
// newline, where it starts as a status does ("[12/5000] ...").
std::vector<std::string> status_lines(const std::string& output) {
  std::vector<std::string> lines;
  const std::string clear = "\r\033[K";
  for (std::size_t at = output.find(clear); at != std::string::npos; at = output.find(clear, at + 1)) {
    const std::size_t start = at + clear.size();
    const std::size_t end = output.find_first_of("\r\n", start);
    if (end == std::string::npos) break;  // cut off by the read
    const std::string line = output.substr(start, end - start);
    if (line.starts_with('[')) lines.push_back(line);
  }
  return lines;
}

std::size_t widest(const std::vector<std::string>& lines) {
  std::size_t width = 0;
  for (const auto& line : lines) width = std::max(width, line.size());  // ASCII: bytes are columns
  return width;
}

class TerminalWidth : public Cli {
 protected:
  std::vector<std::string> tune_args() {
    std::ofstream(path("study.yaml")) << kStudy;
    std::filesystem::remove(path("study.db"));
    return {"tune", path("study.yaml"), "--storage", path("study.db"), "--timeout", "3s"};
  }
};

TEST_F(TerminalWidth, StatusLinesFitEightyColumns) {
  const TerminalRun wide = run_on_terminal(tune_args(), 200);
  EXPECT_EQ(wide.status, 0) << wide.output;
  const auto wide_lines = status_lines(wide.output);
  ASSERT_FALSE(wide_lines.empty()) << wide.output;
  EXPECT_GT(widest(wide_lines), 80u) << "in full, a status line is wider than 80 columns";

  const TerminalRun narrow = run_on_terminal(tune_args(), 80);
  EXPECT_EQ(narrow.status, 0) << narrow.output;
  const auto lines = status_lines(narrow.output);
  ASSERT_FALSE(lines.empty()) << narrow.output;
  EXPECT_LE(widest(lines), 79u) << "the last column stays free, so no redraw wraps";
  bool names_the_best = false;
  for (const auto& line : lines)
    names_the_best = names_the_best || line.find("best validation_accuracy") != std::string::npos;
  EXPECT_TRUE(names_the_best) << "the compact form keeps the best value and its metric";
}

TEST_F(TerminalWidth, AResizedTerminalGetsNarrowerStatusLines) {
  bool resized = false;
  std::size_t resized_at = 0;
  const TerminalRun run = run_on_terminal(tune_args(), 200, [&](int terminal, const std::string& output) {
    if (resized || status_lines(output).empty()) return;
    set_width(terminal, 60);  // the kernel sends SIGWINCH to the program
    resized = true;
    resized_at = output.size();
  });
  EXPECT_EQ(run.status, 0) << run.output;
  ASSERT_TRUE(resized) << run.output;
  // Redraws go on every second for the rest of the 3 s: the last ones follow the new width.
  const auto after = status_lines(run.output.substr(resized_at));
  ASSERT_FALSE(after.empty()) << run.output;
  EXPECT_LE(after.back().size(), 59u) << after.back();
}

}  // namespace
