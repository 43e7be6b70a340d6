// Intermediate values written to the storage on a thread of their own, so that a trial's epoch
// report never waits on the database (a slow disk, a remote server) and no lock is held over it.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "mlptune/tune/storage.hpp"

namespace mlptune::tune {

class IntermediateWriter {
 public:
  IntermediateWriter(Storage& storage, int study_id);
  ~IntermediateWriter();  // writes what is queued, then stops
  IntermediateWriter(const IntermediateWriter&) = delete;
  IntermediateWriter& operator=(const IntermediateWriter&) = delete;

  // Queues storage.record_intermediate(study, number, epoch, value) and returns at once. Values
  // are written in the order they were queued.
  void record(int number, int epoch, double value);
  // Waits until every value queued so far is in the storage. Rethrows the first error a write
  // raised (a StorageError naming the database), so the study stops as it would have at the write.
  void flush();

 private:
  struct Entry {
    int number;
    int epoch;
    double value;
  };
  void write_queued();

  Storage& storage_;
  int study_id_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Entry> queue_;
  bool writing_ = false;  // an entry taken off the queue is being written
  bool stopping_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: it starts once every member above exists
};

}  // namespace mlptune::tune
