// Intermediate values written to the storage on a thread of their own, so that a trial's epoch
// report never waits on the database (a slow disk, a remote server, an outage the storage rides
// out) and no lock is held over it.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "mlptune/tune/storage.hpp"

namespace mlptune::tune {

class IntermediateWriter {
 public:
  explicit IntermediateWriter(Storage& storage);
  ~IntermediateWriter();  // writes what is queued, then stops
  IntermediateWriter(const IntermediateWriter&) = delete;
  IntermediateWriter& operator=(const IntermediateWriter&) = delete;

  // Queues storage.record_intermediate(claim, epoch, value) and returns at once. Values are
  // written in the order they were queued.
  void record(const TrialClaim& claim, int epoch, double value);
  // Whether a value of `claim` was refused: the trial was taken over by another worker.
  bool lost(const TrialClaim& claim);
  // Waits until every value queued so far is in the storage. Rethrows the error a write raised (a
  // StorageError naming the database: it stayed out of reach for the storage's whole retry window),
  // so the study stops as it would have at the write.
  void flush();
  // Rethrows that error at once, if a write raised one: the study stops while the database is
  // still out of reach, not at the next flush.
  void rethrow_failure();

 private:
  struct Entry {
    TrialClaim claim;
    int epoch;
    double value;
  };
  void write_queued();

  Storage& storage_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Entry> queue_;
  bool writing_ = false;  // an entry taken off the queue is being written
  bool stopping_ = false;
  std::exception_ptr error_;  // then nothing more is written: the value that failed stays queued
  std::set<std::tuple<int, int, std::int64_t>> lost_;  // claims whose values were refused
  std::thread thread_;                                 // last: it starts once every member above exists
};

}  // namespace mlptune::tune
