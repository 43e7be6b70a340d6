// The storage writes of intermediate values, off the trials' threads.
#include "tune/intermediate_writer.hpp"

namespace mlptune::tune {

IntermediateWriter::IntermediateWriter(Storage& storage) : storage_(storage), thread_([this] { write_queued(); }) {}

IntermediateWriter::~IntermediateWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void IntermediateWriter::record(const TrialClaim& claim, int epoch, double value) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({claim, epoch, value});
  }
  changed_.notify_all();
}

void IntermediateWriter::flush() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return (queue_.empty() && !writing_) || error_; });
  if (error_) std::rethrow_exception(error_);
}

void IntermediateWriter::rethrow_failure() {
  std::lock_guard lock(mutex_);
  if (error_) std::rethrow_exception(error_);
}

bool IntermediateWriter::lost(const TrialClaim& claim) {
  std::lock_guard lock(mutex_);
  return lost_.contains({claim.study_id, claim.number, claim.token});
}

void IntermediateWriter::write_queued() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return (!queue_.empty() && !error_) || stopping_; });
    if (queue_.empty() || error_) return;  // stopping, and everything is written (or cannot be)
    const Entry entry = queue_.front();
    writing_ = true;
    lock.unlock();
    std::exception_ptr error;
    bool refused = false;
    try {
      refused = !storage_.record_intermediate(entry.claim, entry.epoch, entry.value);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    writing_ = false;
    if (!error) queue_.pop_front();  // written or refused; a failed value stays, in its place
    if (refused) lost_.insert({entry.claim.study_id, entry.claim.number, entry.claim.token});
    if (error) error_ = error;
    changed_.notify_all();
  }
}

}  // namespace mlptune::tune
