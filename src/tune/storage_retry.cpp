// Storage operations tried again through an outage (see storage_retry.hpp).
#include "tune/storage_retry.hpp"

#include <algorithm>
#include <thread>

#include "common/duration_text.hpp"

namespace mlptune::tune {

StorageRetry::StorageRetry(std::string location, RetryOptions options)
    : location_(std::move(location)), options_(std::move(options)) {}

void StorageRetry::run(const std::string& what, const std::function<void()>& attempt) {
  bool retrying = false;  // this operation failed before: it is one of the outage's retries
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    try {
      attempt();
      succeeded(retrying);
      return;
    } catch (const RetryableFailure& failure) {
      failed(what, failure, retrying);
    } catch (...) {
      if (retrying) succeeded(/*retried=*/true);  // it got through to an answer, an error
      throw;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

void StorageRetry::failed(const std::string& what, const RetryableFailure& failure, bool& retrying) {
  std::string notice;
  {
    std::lock_guard lock(mutex_);
    if (!retrying) ++retrying_;
    retrying = true;
    const Clock::time_point now = Clock::now();
    if (!outage_since_) {
      outage_since_ = now;
      notice = location_ + ": " + failure.problem + "; " + what + " is tried again for up to " +
               duration_text(options_.window_seconds) + " before the study stops";
    } else if (now - *outage_since_ >= std::chrono::duration<double>(options_.window_seconds)) {
      --retrying_;
      throw StorageError(location_ + ": " + failure.problem + ", still after trying again for " +
                         duration_text(options_.window_seconds) + " (while " + what + "); " + failure.fix +
                         ", then run the same command again to resume the study");
    }
  }
  if (!notice.empty() && options_.notice) options_.notice(notice);
}

// The outage ends when an operation that was retried gets through, or when anything gets through
// while nothing retries. (A read that a lock does not stop, while a write waits for it, ends
// nothing.)
void StorageRetry::succeeded(bool retried) {
  std::optional<Clock::time_point> since;
  {
    std::lock_guard lock(mutex_);
    if (retried) --retrying_;
    if (!outage_since_ || (!retried && retrying_ > 0)) return;
    since.swap(outage_since_);
  }
  if (!retried || !options_.notice) return;
  const double seconds = std::chrono::duration<double>(Clock::now() - *since).count();
  options_.notice(location_ + ": reachable again after " + duration_text(seconds) + "; the study goes on");
}

}  // namespace mlptune::tune
