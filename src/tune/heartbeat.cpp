// The heartbeat thread.
#include "tune/heartbeat.hpp"

#include <chrono>
#include <exception>
#include <utility>

#include "common/duration_text.hpp"

namespace mlptune::tune {

Heartbeat::Heartbeat(Storage& storage, TrialOwner owner, double interval_seconds,
                     std::function<void(const std::string&)> warn)
    : storage_(storage),
      owner_(std::move(owner)),
      interval_seconds_(interval_seconds),
      warn_(std::move(warn)),
      thread_([this] { beat(); }) {}

Heartbeat::~Heartbeat() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stopping_changed_.notify_all();
  thread_.join();
}

void Heartbeat::beat() {
  const auto interval = std::chrono::duration<double>(interval_seconds_);
  bool failing = false;
  std::unique_lock lock(mutex_);
  while (!stopping_changed_.wait_for(lock, interval, [this] { return stopping_; })) {
    lock.unlock();
    try {
      storage_.heartbeat(owner_);
      failing = false;
    } catch (const std::exception& error) {
      if (!failing && warn_)
        warn_(std::string("the heartbeat of this process's running trials could not be stored (") + error.what() +
              "); it is retried every " + duration_text(interval_seconds_));
      failing = true;
    }
    lock.lock();
  }
}

}  // namespace mlptune::tune
