// The signal handler and its watcher thread: the handler writes one byte to a pipe, the watcher
// turns the first signal into a stop request and the second into an immediate exit. And std::cout
// kept from ending the program when its reader quits.
#include "cli/stop_signals.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "mlptune/error.hpp"

namespace mlptune::cli {
namespace {

// A signal handler reaches no object, so the pipe's write end is the one process-wide variable.
volatile std::sig_atomic_t signal_pipe = -1;

extern "C" void on_stop_signal(int number) {
  const int saved_errno = errno;
  const unsigned char byte = static_cast<unsigned char>(number);
  [[maybe_unused]] const ssize_t written = ::write(signal_pipe, &byte, 1);  // non-blocking: never waits
  errno = saved_errno;
}

tune::StopCause cause_of(int number) {
  switch (number) {
    case SIGTERM:
      return tune::StopCause::terminate;
    case SIGHUP:
      return tune::StopCause::hangup;
    default:
      return tune::StopCause::interrupt;
  }
}

// "Ctrl-C (SIGINT)", "SIGTERM", "SIGHUP (the terminal closed)", as the study's stop reason says it.
std::string signal_name(int number) {
  tune::StopRequest named;
  named.request(cause_of(number));
  return named.reason();
}

std::string second_signal_name(int number) {
  switch (number) {
    case SIGTERM:
      return "a second SIGTERM";
    case SIGHUP:
      return "a second SIGHUP";
    default:
      return "Ctrl-C again";
  }
}

// On a terminal the live view's status line is unfinished: the message starts on a line of its own.
const char* line_start() {
  return isatty(STDERR_FILENO) != 0 ? "\n" : "";
}

}  // namespace

StopSignals::StopSignals(std::shared_ptr<tune::StopRequest> stop) : stop_(std::move(stop)) {
  if (::pipe2(pipe_, O_CLOEXEC) != 0)
    throw Error(std::string("cannot set up Ctrl-C handling (pipe: ") + std::strerror(errno) +
                "); too many open files? raise ulimit -n");
  ::fcntl(pipe_[1], F_SETFL, O_NONBLOCK);
  signal_pipe = pipe_[1];
  watcher_ = std::thread([this] { watch(); });
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // interrupted system calls go on: the stop is seen at the next epoch end
  ::sigaction(SIGINT, &action, &previous_interrupt_);
  ::sigaction(SIGTERM, &action, &previous_terminate_);
  ::sigaction(SIGHUP, &action, &previous_hangup_);
  // A program started in the background by a script ignores SIGINT, so that a Ctrl-C meant for the
  // script's foreground leaves it alone, and one started by nohup ignores SIGHUP: it keeps doing so.
  if (previous_interrupt_.sa_handler == SIG_IGN) ::sigaction(SIGINT, &previous_interrupt_, nullptr);
  if (previous_hangup_.sa_handler == SIG_IGN) ::sigaction(SIGHUP, &previous_hangup_, nullptr);
}

StopSignals::~StopSignals() {
  ::sigaction(SIGINT, &previous_interrupt_, nullptr);
  ::sigaction(SIGTERM, &previous_terminate_, nullptr);
  ::sigaction(SIGHUP, &previous_hangup_, nullptr);
  const unsigned char quit = 0;
  while (::write(pipe_[1], &quit, 1) < 0 && errno == EINTR) {
  }
  watcher_.join();
  signal_pipe = -1;
  ::close(pipe_[0]);
  ::close(pipe_[1]);
}

void StopSignals::watch() {
  bool stopping = false;
  for (;;) {
    unsigned char number = 0;
    const ssize_t got = ::read(pipe_[0], &number, 1);
    if (got < 0 && errno == EINTR) continue;
    if (got != 1 || number == 0) return;
    const std::string name = signal_name(number);
    if (stopping) {
      std::cerr << line_start() << "mlptune: " << name
                << " again: quitting at once; running trials continue from their last checkpoint when the study "
                   "runs again"
                << std::endl;
      std::_Exit(128 + number);
    }
    stopping = true;
    stop_->request(cause_of(number));
    std::cerr << line_start() << "mlptune: " << name
              << ": stopping once the running trials end their current epoch (they are saved to continue in the "
                 "next run); "
              << second_signal_name(number) << " quits at once" << std::endl;
  }
}

int exit_status_for(tune::StopCause cause) {
  switch (cause) {
    case tune::StopCause::interrupt:
      return 128 + SIGINT;
    case tune::StopCause::terminate:
      return 128 + SIGTERM;
    case tune::StopCause::hangup:
      return 128 + SIGHUP;
    case tune::StopCause::none:
    case tune::StopCause::time_budget:
      break;
  }
  return 0;
}

ClosedOutputTolerance::ClosedOutputTolerance() {
  std::signal(SIGPIPE, SIG_IGN);  // a write to a pipe nobody reads fails with EPIPE instead
  previous_ = std::cout.rdbuf(&buffer_);
}

ClosedOutputTolerance::~ClosedOutputTolerance() {
  std::cout.flush();
  std::cout.rdbuf(previous_);
}

ClosedOutputTolerance::Buffer::int_type ClosedOutputTolerance::Buffer::overflow(int_type byte) {
  if (traits_type::eq_int_type(byte, traits_type::eof())) return traits_type::not_eof(byte);
  const char c = traits_type::to_char_type(byte);
  xsputn(&c, 1);
  return byte;
}

// Always "written": a closed output is not the caller's failure, and std::cout never turns bad.
std::streamsize ClosedOutputTolerance::Buffer::xsputn(const char* bytes, std::streamsize count) {
  if (!closed_.load()) {
    std::fwrite(bytes, 1, std::size_t(count), stdout);
    check_written();
  }
  return count;
}

int ClosedOutputTolerance::Buffer::sync() {
  if (!closed_.load()) {
    std::fflush(stdout);
    check_written();
  }
  return 0;
}

void ClosedOutputTolerance::Buffer::check_written() {
  if (!std::ferror(stdout)) return;
  const int error_number = errno;
  if (closed_.exchange(true)) return;
  const std::string cause =
      error_number == EPIPE ? std::string("the program reading it has quit") : std::string(std::strerror(error_number));
  std::cerr << line_start() << "mlptune: standard output is closed (" << cause
            << "); going on without writing to it (messages still come here, on standard error)" << std::endl;
}

}  // namespace mlptune::cli
