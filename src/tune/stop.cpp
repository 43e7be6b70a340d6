// A study's stop request: the first cause wins; a time budget becomes a cause once it is spent.
#include "mlptune/tune/stop.hpp"

#include <algorithm>

#include "common/duration_text.hpp"

namespace mlptune::tune {

void StopRequest::request(StopCause cause) {
  StopCause none = StopCause::none;
  cause_.compare_exchange_strong(none, cause);
}

void StopRequest::stop_after(double seconds) {
  const double capped = std::min(seconds, 1e9);  // about 30 years: beyond it Clock::rep would overflow
  const auto budget = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(capped));
  budget_seconds_ = seconds;
  deadline_ = (Clock::now() + budget).time_since_epoch().count();
}

StopCause StopRequest::cause() const {
  const StopCause cause = cause_.load();
  if (cause != StopCause::none) return cause;
  const Clock::rep deadline = deadline_.load();
  if (deadline == 0 || Clock::now().time_since_epoch().count() < deadline) return StopCause::none;
  StopCause none = StopCause::none;
  cause_.compare_exchange_strong(none, StopCause::time_budget);
  return cause_.load();
}

std::optional<double> StopRequest::seconds_left() const {
  const Clock::rep deadline = deadline_.load();
  if (deadline == 0) return std::nullopt;
  const double left =
      std::chrono::duration<double>(Clock::duration(deadline) - Clock::now().time_since_epoch()).count();
  return left > 0 ? left : 0.0;
}

std::optional<double> StopRequest::budget_seconds() const {
  if (deadline_.load() == 0) return std::nullopt;
  return budget_seconds_.load();
}

std::string StopRequest::reason() const {
  switch (cause()) {
    case StopCause::none:
      break;
    case StopCause::time_budget:
      return "the time budget of " + duration_text(budget_seconds_.load()) + " is spent";
    case StopCause::interrupt:
      return "Ctrl-C (SIGINT)";
    case StopCause::terminate:
      return "SIGTERM";
    case StopCause::hangup:
      return "SIGHUP (the terminal closed)";
  }
  return "no stop";
}

}  // namespace mlptune::tune
