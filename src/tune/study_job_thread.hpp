// One thread that runs a study's job source (claims, ends, reads of the whole study) for whichever
// executor slot asks, one call at a time.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

namespace mlptune::tune {

// Why a thread of its own: a claim reads every trial of the study, so its temporary memory grows
// with the study. glibc serves each thread from its own arena and keeps what a thread freed there,
// so with the job source run on K slot threads a long study kept K copies of its largest read
// (about 3 KiB a trial each). On one thread it keeps one. The calls are serialised too, as the
// job source needs.
class StudyJobThread {
 public:
  StudyJobThread() : thread_([this] { serve(); }) {}
  ~StudyJobThread() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }
  StudyJobThread(const StudyJobThread&) = delete;
  StudyJobThread& operator=(const StudyJobThread&) = delete;

  // Runs `call` on the thread, after the calls queued before it, and returns what it returns (or
  // throws what it throws) to the caller, who waits.
  template <typename Call>
  auto run(Call call) {
    // The queue shares the task, so it lives until the thread has returned from it, even when its
    // caller, woken by the result, has already moved on.
    auto task = std::make_shared<std::packaged_task<decltype(call())()>>(std::move(call));
    auto result = task->get_future();
    {
      std::lock_guard lock(mutex_);
      queue_.push_back([task] { (*task)(); });
    }
    changed_.notify_all();
    return result.get();
  }

 private:
  void serve() {
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and every call has run
      const std::function<void()> call = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      call();  // a packaged task: what it throws goes to its caller
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once every member above exists
};

}  // namespace mlptune::tune
