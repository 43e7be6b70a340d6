// The executor: a thread per slot runs one trial at a time, asks the job source for more work
// when free, and reports every epoch and every result; the job source's calls are serialised by a
// lock of their own, which no epoch report takes.
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mlptune/engine.hpp"
#include "mlptune/error.hpp"

namespace mlptune {
namespace {

constexpr std::array<std::pair<JobOutcome, std::string_view>, 7> kOutcomeNames{{
    {JobOutcome::completed, "completed"},
    {JobOutcome::stopped_early, "stopped_early"},
    {JobOutcome::diverged, "diverged"},
    {JobOutcome::failed, "failed"},
    {JobOutcome::paused, "paused"},
    {JobOutcome::stopped, "stopped"},
    {JobOutcome::suspended, "suspended"},
}};

bool is_terminal(TrialStatus status) {
  return status != TrialStatus::running;
}

JobOutcome outcome_of(TrialStatus status) {
  switch (status) {
    case TrialStatus::completed:
      return JobOutcome::completed;
    case TrialStatus::stopped_early:
      return JobOutcome::stopped_early;
    case TrialStatus::diverged:
      return JobOutcome::diverged;
    case TrialStatus::failed:
    case TrialStatus::running:
      break;
  }
  return JobOutcome::failed;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class Executor {
 public:
  Executor(Backend& backend, std::shared_ptr<const DataSplits> data, const ExecutorOptions& options,
           const ExecutorCallbacks& callbacks)
      : backend_(backend), data_(std::move(data)), options_(options), callbacks_(callbacks) {}

  void run() {
    std::vector<std::thread> workers;
    try {
      for (int slot = 0; slot < options_.slots; ++slot) workers.emplace_back([this] { work(); });
    } catch (...) {  // no thread for a slot: the started ones end after their current job
      std::lock_guard lock(mutex_);
      record_run_error(std::current_exception());
      signal_event();
    }
    for (std::thread& worker : workers) worker.join();
    if (run_error_) std::rethrow_exception(run_error_);
  }

 private:
  // One slot: ask for a job, run it, report it; block on `wait` (and on `finished` while other
  // jobs run, since their epochs or results may make more work, e.g. a promotion). The job source
  // is asked without the executor's lock, so a slow claim (a database round trip) holds up no
  // other trial's epoch report.
  void work() {
    while (true) {
      std::uint64_t seen = 0;
      {
        std::lock_guard lock(mutex_);
        if (run_error_) break;
        seen = events_;  // read before asking: an event during the ask makes the slot ask again
      }
      std::optional<Asked> asked = ask_for_job();
      if (!asked) break;
      if (asked->next.kind == NextJob::Kind::run) {
        run_and_report(std::move(asked->next.job));
        continue;
      }
      if (asked->running_jobs == 0) {
        if (asked->next.kind == NextJob::Kind::finished) break;
        std::lock_guard lock(mutex_);
        record_run_error(std::make_exception_ptr(
            Error("the job source answered 'wait' while no job runs: nothing could ever wake the slot")));
        break;
      }
      std::unique_lock lock(mutex_);
      event_.wait(lock, [&] { return events_ != seen || run_error_; });
    }
    std::lock_guard lock(mutex_);
    signal_event();  // a slot that leaves lets the waiting ones ask again (and leave too)
  }

  // The job source's answer, and how many jobs ran when it gave it.
  struct Asked {
    NextJob next;
    int running_jobs = 0;
  };

  // Asks the job source under source_mutex_ (next_job and on_result never run at once); a job it
  // hands out counts as running before another slot can ask. Nothing: the run is ending.
  std::optional<Asked> ask_for_job() {
    std::lock_guard source(source_mutex_);
    if (has_run_error()) return std::nullopt;
    std::optional<NextJob> next = call_guarded([&] { return callbacks_.next_job(); });
    if (!next) return std::nullopt;
    std::lock_guard lock(mutex_);
    if (next->kind == NextJob::Kind::run) ++running_jobs_;
    return Asked{std::move(*next), running_jobs_};
  }

  // The result goes to on_result under source_mutex_ only; the job stops counting as running once
  // it is delivered, so a slot told `wait` meanwhile is woken by this job's end.
  void run_and_report(TrialJob job) {
    JobResult result = run_job(std::move(job));
    std::lock_guard source(source_mutex_);
    deliver(std::move(result));
    std::lock_guard lock(mutex_);
    --running_jobs_;
    signal_event();
  }

  // source_mutex_ is held.
  void deliver(JobResult result) {
    if (has_run_error() || !callbacks_.on_result) return;
    try {
      callbacks_.on_result(std::move(result));
    } catch (...) {
      std::lock_guard lock(mutex_);
      record_run_error(std::current_exception());
    }
  }

  bool has_run_error() {
    std::lock_guard lock(mutex_);
    return bool(run_error_);
  }

  JobResult run_job(TrialJob job) {
    auto start = std::chrono::steady_clock::now();
    JobResult result;
    result.trial_id = job.trial_id;
    try {
      std::unique_ptr<Trainer> trainer = backend_.make_trainer(job.spec, data_);
      if (job.resume_from) resume(*trainer, *job.resume_from, job.spec);
      train_until_done(*trainer, job, result);
    } catch (const std::bad_alloc&) {
      fail(result, "out of host memory (std::bad_alloc)");
    } catch (const std::exception& error) {
      fail(result, error.what());
    } catch (...) {
      fail(result, "unknown exception from the trainer");
    }
    result.seconds = seconds_since(start);
    return result;
  }

  static void resume(Trainer& trainer, const TrialState& state, const TrialSpec& spec) {
    trainer.load_state(state);
    if (trainer.spec().train.epochs < spec.train.epochs) trainer.extend_epochs(spec.train.epochs);
  }

  static void fail(JobResult& result, std::string message) {
    result.outcome = JobOutcome::failed;
    result.message = std::move(message);
    result.state.reset();
    result.test = Metrics{};
  }

  void train_until_done(Trainer& trainer, const TrialJob& job, JobResult& result) {
    Checkpointer checkpoints(*this, job.trial_id);
    while (true) {
      EpochReport report = trainer.train_epoch();
      result.last_epoch = report;
      Decision decision = report_epoch(job.trial_id, report);
      if (is_terminal(report.status)) return finish(trainer, report, result);
      if (decision == Decision::stop) return end_early(trainer, JobOutcome::stopped, result);
      bool pause_here = job.pause_after_epoch > 0 && report.epoch >= job.pause_after_epoch;
      if (decision == Decision::pause || pause_here) return end_early(trainer, JobOutcome::paused, result);
      if (decision == Decision::suspend) return end_early(trainer, JobOutcome::suspended, result);
      checkpoints.after_epoch(trainer, report.epoch);
    }
  }

  // One job's checkpoints: the state copied at an epoch end once the interval has passed, handed
  // to on_checkpoint on a thread of its own; at most one in flight, and none left when it ends.
  class Checkpointer {
   public:
    Checkpointer(Executor& executor, int trial_id) : executor_(executor), trial_id_(trial_id) {}
    ~Checkpointer() { wait(); }
    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;

    void after_epoch(Trainer& trainer, int epoch) {
      const auto& callback = executor_.callbacks_.on_checkpoint;
      if (!callback || seconds_since(last_) < executor_.options_.checkpoint_interval_seconds) return;
      wait();
      last_ = std::chrono::steady_clock::now();
      in_flight_ = std::thread([this, &callback, epoch, state = trainer.state()]() mutable {
        try {
          callback(trial_id_, epoch, std::move(state));
        } catch (...) {
          std::lock_guard lock(executor_.mutex_);
          executor_.record_run_error(std::current_exception());
          executor_.signal_event();
        }
      });
    }

   private:
    void wait() {
      if (in_flight_.joinable()) in_flight_.join();
    }

    Executor& executor_;
    int trial_id_;
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
    std::thread in_flight_;
  };

  // A trial that ended by itself: completed, stopped early, diverged or failed.
  void finish(Trainer& trainer, const EpochReport& report, JobResult& result) {
    result.outcome = outcome_of(report.status);
    result.message = report.message;
    bool finished_well = result.outcome == JobOutcome::completed || result.outcome == JobOutcome::stopped_early;
    if (finished_well && data_->test.rows > 0) result.test = trainer.evaluate(data_->test);
    if (options_.keep_final_state && result.outcome != JobOutcome::failed) result.state = trainer.state();
  }

  // A trial the scheduler paused or the run suspended (its state is where it resumes), or one the
  // scheduler stopped.
  void end_early(Trainer& trainer, JobOutcome outcome, JobResult& result) {
    result.outcome = outcome;
    const bool resumes = outcome == JobOutcome::paused || outcome == JobOutcome::suspended;
    if (resumes || options_.keep_final_state) result.state = trainer.state();
  }

  // on_epoch runs without the executor's lock, beside other trials' reports: a slow callback (a
  // database write) holds up only its own trial.
  Decision report_epoch(int trial_id, const EpochReport& report) {
    {
      std::lock_guard lock(mutex_);
      if (run_error_) return Decision::stop;  // the run is ending: no more training
    }
    std::optional<Decision> decision = Decision::proceed;
    if (callbacks_.on_epoch) {
      try {
        decision = callbacks_.on_epoch(trial_id, report);
      } catch (...) {
        std::lock_guard lock(mutex_);
        record_run_error(std::current_exception());
        decision.reset();
      }
    }
    std::lock_guard lock(mutex_);
    signal_event();
    return decision.value_or(Decision::stop);
  }

  // Runs a caller's callback (source_mutex_ held); an exception from it ends the whole run and is
  // rethrown from run_jobs once every slot has stopped (as is a failure to start a slot's thread).
  template <class Callback>
  auto call_guarded(Callback&& callback) -> std::optional<decltype(callback())> {
    try {
      return callback();
    } catch (...) {
      std::lock_guard lock(mutex_);
      record_run_error(std::current_exception());
      return std::nullopt;
    }
  }

  // The lock is held.
  void record_run_error(std::exception_ptr error) {
    if (!run_error_) run_error_ = std::move(error);
  }

  // The lock is held.
  void signal_event() {
    ++events_;
    event_.notify_all();
  }

  Backend& backend_;
  std::shared_ptr<const DataSplits> data_;
  const ExecutorOptions& options_;
  const ExecutorCallbacks& callbacks_;

  // Taken for next_job and on_result (which may wait on a database), so that they never run at
  // once; never while holding mutex_.
  std::mutex source_mutex_;
  std::mutex mutex_;               // held only briefly; guards the fields below
  std::condition_variable event_;  // an epoch was reported, a job ended or a slot left
  std::uint64_t events_ = 0;
  int running_jobs_ = 0;
  std::exception_ptr run_error_;  // the first exception from a callback (or thread start): ends the run
};

}  // namespace

std::string_view to_string(JobOutcome outcome) {
  for (const auto& [value, name] : kOutcomeNames)
    if (value == outcome) return name;
  return "?";
}

void run_jobs(Backend& backend, std::shared_ptr<const DataSplits> data, const ExecutorOptions& options,
              const ExecutorCallbacks& callbacks) {
  if (options.slots < 1) throw ConfigError("executor slots must be >= 1, got " + std::to_string(options.slots));
  if (!callbacks.next_job) throw ConfigError("run_jobs needs a next_job callback");
  if (!data) throw ConfigError("run_jobs needs the data splits");
  Executor(backend, std::move(data), options, callbacks).run();
}

}  // namespace mlptune
