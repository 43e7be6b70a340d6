// The heartbeat thread.
#include "tune/heartbeat.hpp"

#include <exception>
#include <utility>

#include "common/duration_text.hpp"

namespace mlptune::tune {

Heartbeat::Heartbeat(Storage& storage, TrialOwner owner, double interval_seconds,
                     std::function<void(const std::string&)> warn, std::function<void()> after_beat)
    : storage_(storage),
      owner_(std::move(owner)),
      interval_seconds_(interval_seconds),
      warn_(std::move(warn)),
      after_beat_(std::move(after_beat)),
      thread_(interval_seconds, [this] { beat(); }) {}

void Heartbeat::beat() {
  try {
    storage_.heartbeat(owner_);
    if (after_beat_) after_beat_();
    failing_ = false;
  } catch (const std::exception& error) {
    if (!failing_ && warn_)
      warn_(std::string("the heartbeat of this process's running trials could not be stored (") + error.what() +
            "); it is retried every " + duration_text(interval_seconds_));
    failing_ = true;
  }
}

}  // namespace mlptune::tune
