// A function run every interval on a thread of its own, from construction until destruction: the
// first run one interval after the start; destruction waits for a run in progress and stops the
// next. The function must not throw (it runs on the thread).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace mlptune {

class PeriodicThread {
 public:
  PeriodicThread(double interval_seconds, std::function<void()> run)
      : interval_(interval_seconds), run_(std::move(run)), thread_([this] { loop(); }) {}
  ~PeriodicThread() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    stopping_changed_.notify_all();
    thread_.join();
  }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_changed_.wait_for(lock, interval_, [this] { return stopping_; })) {
      lock.unlock();
      run_();
      lock.lock();
    }
  }

  std::chrono::duration<double> interval_;
  std::function<void()> run_;
  std::mutex mutex_;
  std::condition_variable stopping_changed_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once every member above exists
};

}  // namespace mlptune
