// The storage writes of intermediate values, off the trials' threads.
#include "tune/intermediate_writer.hpp"

namespace mlptune::tune {

IntermediateWriter::IntermediateWriter(Storage& storage, int study_id)
    : storage_(storage), study_id_(study_id), thread_([this] { write_queued(); }) {}

IntermediateWriter::~IntermediateWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void IntermediateWriter::record(int number, int epoch, double value) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({number, epoch, value});
  }
  changed_.notify_all();
}

void IntermediateWriter::flush() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return (queue_.empty() && !writing_) || error_; });
  if (error_) std::rethrow_exception(error_);
}

void IntermediateWriter::write_queued() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping, and everything is written
    const Entry entry = queue_.front();
    queue_.pop_front();
    writing_ = true;
    lock.unlock();
    std::exception_ptr error;
    try {
      storage_.record_intermediate(study_id_, entry.number, entry.epoch, entry.value);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    writing_ = false;
    if (error && !error_) error_ = error;
    changed_.notify_all();
  }
}

}  // namespace mlptune::tune
