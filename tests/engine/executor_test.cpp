// Tests of run_jobs with a scripted fake backend: concurrency, epochs, pause/resume, stop,
// failures confined to their job, waiting slots woken by events, and results delivered once.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "mlptune/engine.hpp"
#include "mlptune/error.hpp"

namespace mlptune {
namespace {

using std::chrono::milliseconds;

enum class ThrowKind { mlptune_error, bad_alloc, not_an_exception };

// What the fake trainers do, keyed by TrialSpec::trial_number.
struct FakeScript {
  milliseconds epoch_sleep{0};
  std::map<int, std::pair<int, ThrowKind>> throw_at_epoch;  // trial -> (epoch, what it throws)
  std::set<int> throw_in_make_trainer;
  std::map<int, int> diverge_at_epoch;
};

class FakeBackend;

// Deterministic reports: epoch e of trial t has validation loss t + e / 100; 10 steps per epoch.
class FakeTrainer : public Trainer {
 public:
  FakeTrainer(const TrialSpec& spec, FakeBackend& backend);
  ~FakeTrainer() override;

  EpochReport train_epoch() override {
    if (status_ != TrialStatus::running) throw Error("train_epoch called after the trial ended");
    std::this_thread::sleep_for(script().epoch_sleep);
    ++epoch_;
    step_ += 10;
    throw_if_scripted();
    EpochReport report;
    report.epoch = epoch_;
    report.step = step_;
    report.train_loss = 1.0 / epoch_;
    report.validation.loss = spec_.trial_number + epoch_ / 100.0;
    status_ = next_status(report.message);
    report.status = status_;
    return report;
  }

  Metrics evaluate(const Dataset& split) override {
    Metrics metrics;
    metrics.loss = 100.0 + spec_.trial_number;
    metrics.samples = std::int64_t(split.rows);
    return metrics;
  }
  std::vector<float> predict(const Dataset&) override { return {}; }

  TrialState state() const override {
    TrialState state;
    state.model = spec_.model;
    state.parameters = {{"layers.0.weight", {1}, {float(spec_.trial_number)}}};
    state.step = step_;
    state.epoch = epoch_;
    return state;
  }
  void load_state(const TrialState& state) override {
    epoch_ = state.epoch;
    step_ = state.step;
  }
  void extend_epochs(int epochs) override { spec_.train.epochs = epochs; }
  const TrialSpec& spec() const override { return spec_; }

 private:
  const FakeScript& script() const;

  void throw_if_scripted() const {
    auto found = script().throw_at_epoch.find(spec_.trial_number);
    if (found == script().throw_at_epoch.end() || found->second.first != epoch_) return;
    switch (found->second.second) {
      case ThrowKind::mlptune_error:
        throw DeviceError("out of device memory in epoch " + std::to_string(epoch_));
      case ThrowKind::bad_alloc:
        throw std::bad_alloc();
      case ThrowKind::not_an_exception:
        throw 42;
    }
  }

  TrialStatus next_status(std::string& message) const {
    auto diverge = script().diverge_at_epoch.find(spec_.trial_number);
    if (diverge != script().diverge_at_epoch.end() && diverge->second == epoch_) {
      message = "diverged at epoch " + std::to_string(epoch_) + ", step " + std::to_string(step_);
      return TrialStatus::diverged;
    }
    return epoch_ >= spec_.train.epochs ? TrialStatus::completed : TrialStatus::running;
  }

  TrialSpec spec_;
  FakeBackend& backend_;
  int epoch_ = 0;
  std::int64_t step_ = 0;
  TrialStatus status_ = TrialStatus::running;
};

// Counts trainers alive at once: a trainer lives exactly as long as its job runs.
class FakeBackend : public Backend {
 public:
  explicit FakeBackend(FakeScript script = {}) : script_(std::move(script)) {}
  std::string name() const override { return "fake"; }
  BackendKind kind() const override { return BackendKind::cpu; }
  std::unique_ptr<Trainer> make_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits>) override {
    if (script_.throw_in_make_trainer.contains(spec.trial_number))
      throw ConfigError("input width 3 does not match the data's 4 columns");
    return std::make_unique<FakeTrainer>(spec, *this);
  }
  int recommended_concurrency() const override { return 4; }

  void trainer_started() {
    int now = ++active_;
    int seen = max_active_.load();
    while (now > seen && !max_active_.compare_exchange_weak(seen, now)) {
    }
  }
  void trainer_ended() { --active_; }
  int max_active() const { return max_active_; }
  const FakeScript& script() const { return script_; }

 private:
  FakeScript script_;
  std::atomic<int> active_{0};
  std::atomic<int> max_active_{0};
};

FakeTrainer::FakeTrainer(const TrialSpec& spec, FakeBackend& backend) : spec_(spec), backend_(backend) {
  backend_.trainer_started();
}
FakeTrainer::~FakeTrainer() {
  backend_.trainer_ended();
}
const FakeScript& FakeTrainer::script() const {
  return backend_.script();
}

std::shared_ptr<const DataSplits> test_data() {
  auto data = std::make_shared<DataSplits>();
  data->test.rows = 10;
  return data;
}

TrialJob make_job(int trial_id, int epochs, int pause_after_epoch = 0) {
  TrialJob job;
  job.trial_id = trial_id;
  job.spec.trial_number = trial_id;
  job.spec.train.epochs = epochs;
  job.pause_after_epoch = pause_after_epoch;
  return job;
}

// A job source and result sink. on_epoch runs without the executor's lock, beside the other
// callbacks, so one mutex guards the queue (and `decide` runs under it).
struct JobQueue {
  std::mutex mutex;
  std::deque<TrialJob> jobs;
  // The answer while the queue is empty but handed-out jobs have not ended (a scheduler that may
  // still promote one); with none outstanding it answers finished.
  NextJob::Kind when_empty = NextJob::Kind::finished;
  int outstanding = 0;
  std::function<Decision(int, const EpochReport&)> decide = [](int, const EpochReport&) { return Decision::proceed; };
  std::function<void(const JobResult&)> after_result = [](const JobResult&) {};

  std::map<int, JobResult> results;
  std::map<int, int> result_count;
  std::map<int, std::vector<int>> epochs_reported;
  int next_job_calls = 0;

  ExecutorCallbacks callbacks() {
    return {[this] {
              std::lock_guard lock(mutex);
              return next();
            },
            [this](int trial_id, const EpochReport& report) {
              std::lock_guard lock(mutex);
              epochs_reported[trial_id].push_back(report.epoch);
              return decide(trial_id, report);
            },
            [this](JobResult result) {
              std::lock_guard lock(mutex);
              --outstanding;
              ++result_count[result.trial_id];
              after_result(result);
              results[result.trial_id] = std::move(result);
            }};
  }

  NextJob next() {
    ++next_job_calls;
    if (jobs.empty()) return outstanding > 0 ? NextJob{when_empty, {}} : NextJob::finished();
    ++outstanding;
    TrialJob job = std::move(jobs.front());
    jobs.pop_front();
    return NextJob::run(std::move(job));
  }
};

// The epoch a result ends at: it keeps the last report of its run, and only that one.
int last_epoch(const JobResult& result) {
  EXPECT_TRUE(result.last_epoch.has_value()) << "a result keeps its last epoch's report";
  return result.last_epoch ? result.last_epoch->epoch : 0;
}

std::vector<int> range(int first, int last) {
  std::vector<int> numbers;
  for (int n = first; n <= last; ++n) numbers.push_back(n);
  return numbers;
}

TEST(Executor, SlotsRunThatManyJobsAtOnce) {
  FakeBackend backend(FakeScript{.epoch_sleep = milliseconds(20)});
  JobQueue queue;
  for (int id = 0; id < 9; ++id) queue.jobs.push_back(make_job(id, 3));
  run_jobs(backend, test_data(), {.slots = 3}, queue.callbacks());
  EXPECT_EQ(backend.max_active(), 3);
  EXPECT_EQ(queue.results.size(), 9u);
}

TEST(Executor, EveryJobCompletesWithItsEpochsAndTestMetrics) {
  FakeBackend backend;
  JobQueue queue;
  for (int id = 0; id < 12; ++id) queue.jobs.push_back(make_job(id, 1 + id % 4));
  run_jobs(backend, test_data(), {.slots = 4}, queue.callbacks());
  ASSERT_EQ(queue.results.size(), 12u);
  for (const auto& [id, result] : queue.results) {
    SCOPED_TRACE("trial " + std::to_string(id));
    EXPECT_EQ(result.outcome, JobOutcome::completed);
    EXPECT_EQ(last_epoch(result), 1 + id % 4);
    EXPECT_EQ(queue.epochs_reported[id], range(1, 1 + id % 4));
    EXPECT_EQ(result.test.loss, 100.0 + id);
    EXPECT_EQ(result.test.samples, 10);
    EXPECT_FALSE(result.state.has_value()) << "state only when keep_final_state";
    EXPECT_GE(result.seconds, 0.0);
  }
}

TEST(Executor, ResultsForManyJobsArriveExactlyOnceEach) {
  FakeBackend backend;
  JobQueue queue;
  for (int id = 0; id < 40; ++id) queue.jobs.push_back(make_job(id, 2));
  run_jobs(backend, test_data(), {.slots = 5}, queue.callbacks());
  ASSERT_EQ(queue.result_count.size(), 40u);
  for (const auto& [id, count] : queue.result_count) EXPECT_EQ(count, 1) << "trial " << id;
}

TEST(Executor, KeepFinalStateReturnsTheFinishedState) {
  FakeBackend backend;
  JobQueue queue;
  queue.jobs.push_back(make_job(5, 3));
  run_jobs(backend, test_data(), {.slots = 1, .keep_final_state = true}, queue.callbacks());
  ASSERT_TRUE(queue.results[5].state.has_value());
  EXPECT_EQ(queue.results[5].state->epoch, 3);
  EXPECT_EQ(queue.results[5].state->step, 30);
}

// A trial of many epochs (or of `epochs: 2147483647`) must not grow memory with them: its result
// keeps the last report, and every earlier one only went to on_epoch.
TEST(Executor, ResultOfFiftyThousandEpochsKeepsOnlyTheLastReport) {
  FakeBackend backend;
  JobQueue queue;
  queue.jobs.push_back(make_job(0, 50000));
  int reports = 0;
  ExecutorCallbacks callbacks = queue.callbacks();
  callbacks.on_epoch = [&reports](int, const EpochReport&) {
    ++reports;  // one trial on one slot: no other thread reports
    return Decision::proceed;
  };
  run_jobs(backend, test_data(), {.slots = 1}, callbacks);
  EXPECT_EQ(reports, 50000);
  EXPECT_EQ(queue.results[0].outcome, JobOutcome::completed);
  EXPECT_EQ(last_epoch(queue.results[0]), 50000);
}

TEST(Executor, PausedJobResumesWhereItStopped) {
  FakeBackend backend;
  JobQueue first_run;
  first_run.jobs.push_back(make_job(1, 5, /*pause_after_epoch=*/2));
  run_jobs(backend, test_data(), {.slots = 2}, first_run.callbacks());
  const JobResult& paused = first_run.results[1];
  EXPECT_EQ(paused.outcome, JobOutcome::paused);
  EXPECT_EQ(first_run.epochs_reported[1], range(1, 2));
  EXPECT_EQ(last_epoch(paused), 2);
  ASSERT_TRUE(paused.state.has_value());
  EXPECT_EQ(paused.state->epoch, 2);
  EXPECT_TRUE(std::isnan(paused.test.loss)) << "a paused job has no test metrics yet";

  JobQueue second_run;
  TrialJob resumed = make_job(1, 5);
  resumed.resume_from = paused.state;
  second_run.jobs.push_back(resumed);
  run_jobs(backend, test_data(), {.slots = 2}, second_run.callbacks());
  EXPECT_EQ(second_run.results[1].outcome, JobOutcome::completed);
  EXPECT_EQ(second_run.epochs_reported[1], range(3, 5));
  EXPECT_EQ(last_epoch(second_run.results[1]), 5);
  EXPECT_EQ(second_run.results[1].last_epoch->step, 50);
}

TEST(Executor, SchedulerPauseKeepsTheState) {
  FakeBackend backend;
  JobQueue queue;
  queue.jobs.push_back(make_job(0, 6));
  queue.decide = [](int, const EpochReport& report) { return report.epoch == 4 ? Decision::pause : Decision::proceed; };
  run_jobs(backend, test_data(), {.slots = 1}, queue.callbacks());
  EXPECT_EQ(queue.results[0].outcome, JobOutcome::paused);
  ASSERT_TRUE(queue.results[0].state.has_value());
  EXPECT_EQ(queue.results[0].state->epoch, 4);
}

// A run that ends (a time budget, a signal) suspends each job at the epoch it reports: it ends with
// its state, and a later run resumes it from there without training an epoch twice.
TEST(Executor, SuspendEndsTheJobWithItsStateAndItResumesFromThere) {
  FakeBackend backend;
  JobQueue first_run;
  first_run.jobs.push_back(make_job(3, 6));
  first_run.decide = [](int, const EpochReport& report) {
    return report.epoch == 2 ? Decision::suspend : Decision::proceed;
  };
  run_jobs(backend, test_data(), {.slots = 1}, first_run.callbacks());
  const JobResult& suspended = first_run.results[3];
  EXPECT_EQ(suspended.outcome, JobOutcome::suspended);
  EXPECT_EQ(first_run.epochs_reported[3], range(1, 2));
  EXPECT_EQ(last_epoch(suspended), 2);
  ASSERT_TRUE(suspended.state.has_value()) << "kept without keep_final_state: the trial continues from it";
  EXPECT_EQ(suspended.state->epoch, 2);

  JobQueue second_run;
  TrialJob resumed = make_job(3, 6);
  resumed.resume_from = suspended.state;
  second_run.jobs.push_back(std::move(resumed));
  run_jobs(backend, test_data(), {.slots = 1}, second_run.callbacks());
  EXPECT_EQ(second_run.results[3].outcome, JobOutcome::completed);
  EXPECT_EQ(second_run.epochs_reported[3], range(3, 6));
  EXPECT_EQ(last_epoch(second_run.results[3]), 6);
}

// Checkpoints: states after epoch ends (never the last or a pausing one), written while training
// goes on, each delivered before the job's result.
struct CheckpointLog {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::pair<int, int>> checkpoints;  // (trial, epoch)
  std::vector<int> results_after;                // checkpoints seen when each result arrived
  int last_epoch_reported = 0;
};

TEST(Executor, CheckpointsEveryEpochEndButTheLastReachTheirCallbackBeforeTheResult) {
  FakeBackend backend;
  JobQueue queue;
  queue.jobs.push_back(make_job(7, 4));
  queue.jobs.push_back(make_job(8, 5, /*pause_after_epoch=*/3));
  CheckpointLog log;
  ExecutorCallbacks callbacks = queue.callbacks();
  callbacks.on_checkpoint = [&](int trial, int epoch, TrialState state) {
    std::this_thread::sleep_for(milliseconds(5));  // a slow disk: the result must wait for it
    EXPECT_EQ(state.epoch, epoch);
    std::lock_guard lock(log.mutex);
    log.checkpoints.emplace_back(trial, epoch);
  };
  const auto on_result = callbacks.on_result;
  callbacks.on_result = [&](JobResult result) {
    {
      std::lock_guard lock(log.mutex);
      log.results_after.push_back(int(log.checkpoints.size()));
    }
    on_result(std::move(result));
  };
  run_jobs(backend, test_data(), {.slots = 1, .checkpoint_interval_seconds = 0.0}, callbacks);
  const std::vector<std::pair<int, int>> expected{{7, 1}, {7, 2}, {7, 3}, {8, 1}, {8, 2}};
  EXPECT_EQ(log.checkpoints, expected) << "none after the last epoch, none where the job pauses";
  EXPECT_EQ(log.results_after, (std::vector<int>{3, 5}));
}

// The callback runs on a thread of its own, so the times it sees wander; the epoch ends bracket
// the executor's own clock instead: a checkpoint after epoch b, the one before it after epoch a,
// means the interval passed between the end of epoch a and the end of epoch b + 1.
TEST(Executor, CheckpointsAreAtLeastTheirIntervalApart) {
  FakeBackend backend(FakeScript{.epoch_sleep = milliseconds(30)});
  JobQueue queue;
  queue.jobs.push_back(make_job(0, 6));
  std::mutex mutex;
  std::map<int, std::chrono::steady_clock::time_point> epoch_ends{{0, std::chrono::steady_clock::now()}};
  std::vector<int> checkpoint_epochs{0};
  ExecutorCallbacks callbacks = queue.callbacks();
  const auto on_epoch = callbacks.on_epoch;
  callbacks.on_epoch = [&](int trial, const EpochReport& report) {
    {
      std::lock_guard lock(mutex);
      epoch_ends[report.epoch] = std::chrono::steady_clock::now();
    }
    return on_epoch(trial, report);
  };
  callbacks.on_checkpoint = [&](int, int epoch, TrialState) {
    std::lock_guard lock(mutex);
    checkpoint_epochs.push_back(epoch);
  };
  run_jobs(backend, test_data(), {.slots = 1, .checkpoint_interval_seconds = 0.07}, callbacks);
  ASSERT_GE(checkpoint_epochs.size(), 2u) << "the job's five epoch ends before its last span 150 ms at least";
  for (std::size_t i = 1; i < checkpoint_epochs.size(); ++i) {
    const int before = checkpoint_epochs[i - 1], epoch = checkpoint_epochs[i];
    ASSERT_TRUE(epoch_ends.contains(epoch + 1)) << "no checkpoint after the last epoch";
    EXPECT_GE(std::chrono::duration<double>(epoch_ends[epoch + 1] - epoch_ends[before]).count(), 0.07)
        << "checkpoints after epochs " << before << " and " << epoch;
  }
}

// The training thread does not wait for the write: the next epoch ends while a checkpoint is
// still being written (were it written on the training thread, this would wait out the timeout).
TEST(Executor, TrainingGoesOnWhileACheckpointIsWritten) {
  FakeBackend backend;
  JobQueue queue;
  queue.jobs.push_back(make_job(0, 3));
  CheckpointLog log;
  queue.decide = [&](int, const EpochReport& report) {
    std::lock_guard lock(log.mutex);
    log.last_epoch_reported = report.epoch;
    log.changed.notify_all();
    return Decision::proceed;
  };
  bool overlapped = false;
  ExecutorCallbacks callbacks = queue.callbacks();
  callbacks.on_checkpoint = [&](int, int epoch, TrialState) {
    if (epoch != 1) return;
    std::unique_lock lock(log.mutex);
    overlapped = log.changed.wait_for(lock, std::chrono::seconds(10), [&] { return log.last_epoch_reported >= 2; });
  };
  run_jobs(backend, test_data(), {.slots = 1, .checkpoint_interval_seconds = 0.0}, callbacks);
  EXPECT_TRUE(overlapped);
  EXPECT_EQ(queue.results[0].outcome, JobOutcome::completed);
}

// on_epoch runs without the executor's lock: while one trial's report is held up (a slow
// database), the other slot's trial trains and reports all its 5 epochs. (Reported under the lock,
// the other trial would wait for the slow report, and the report would wait out its limit.)
TEST(Executor, ASlowEpochReportHoldsUpOnlyItsOwnTrial) {
  FakeBackend backend(FakeScript{.epoch_sleep = milliseconds(20)});
  JobQueue queue;
  queue.jobs.push_back(make_job(0, 2));
  queue.jobs.push_back(make_job(1, 5));
  std::mutex mutex;
  std::condition_variable reported;
  int last_epoch_of_trial_1 = 0;
  bool trial_1_finished_meanwhile = false;
  ExecutorCallbacks callbacks = queue.callbacks();
  const auto on_epoch = callbacks.on_epoch;
  callbacks.on_epoch = [&](int trial, const EpochReport& report) {
    if (trial == 0 && report.epoch == 1) {
      std::unique_lock lock(mutex);
      trial_1_finished_meanwhile =
          reported.wait_for(lock, std::chrono::seconds(60), [&] { return last_epoch_of_trial_1 == 5; });
    } else if (trial == 1) {
      std::lock_guard lock(mutex);
      last_epoch_of_trial_1 = report.epoch;
      reported.notify_all();
    }
    return on_epoch(trial, report);
  };
  run_jobs(backend, test_data(), {.slots = 2}, callbacks);
  EXPECT_TRUE(trial_1_finished_meanwhile) << "trial 1 reported epoch " << last_epoch_of_trial_1 << " of 5";
  EXPECT_EQ(queue.results[1].outcome, JobOutcome::completed);
}

// A job source over a slow storage: each claim and each finish takes 200 ms (an fsync, a
// PostgreSQL round trip) and then waits for the long trial to report an epoch. The executor asks
// the source without the lock that epoch reports take, so the long trial's epochs arrive while a
// claim or a finish is in progress; were they serialised, each wait would run out instead.
struct SlowStorage {
  std::mutex mutex;
  std::condition_variable reported;
  int long_trial_epochs = 0;
  std::optional<bool> epoch_during_finish;  // set once observed, either way
  std::optional<bool> epoch_during_claim;

  bool an_epoch_arrives_while_busy() {
    std::this_thread::sleep_for(milliseconds(200));
    std::unique_lock lock(mutex);
    const int before = long_trial_epochs;
    return reported.wait_for(lock, std::chrono::seconds(10), [&] { return long_trial_epochs > before; });
  }
};

TEST(Executor, ASlowClaimOrFinishHoldsUpNoOtherTrialsEpochs) {
  FakeBackend backend(FakeScript{.epoch_sleep = milliseconds(1)});
  JobQueue queue;
  queue.jobs.push_back(make_job(0, 100000));  // trains until both observations are made, then stops
  queue.jobs.push_back(make_job(1, 1));
  SlowStorage storage;
  queue.decide = [&](int trial, const EpochReport&) {
    if (trial != 0) return Decision::proceed;
    std::lock_guard lock(storage.mutex);
    ++storage.long_trial_epochs;
    storage.reported.notify_all();
    const bool observed = storage.epoch_during_finish && storage.epoch_during_claim;
    return observed ? Decision::stop : Decision::proceed;
  };
  ExecutorCallbacks callbacks = queue.callbacks();
  int claims = 0;  // next_job and on_result never run at once: no lock needed
  const auto next_job = callbacks.next_job;
  callbacks.next_job = [&] {
    // The claims after the first two (the slot that ran trial 1 asking again) are the slow ones.
    if (++claims == 3) {
      const bool arrived = storage.an_epoch_arrives_while_busy();
      std::lock_guard lock(storage.mutex);
      storage.epoch_during_claim = arrived;
    }
    return next_job();
  };
  const auto on_result = callbacks.on_result;
  callbacks.on_result = [&](JobResult result) {
    if (result.trial_id == 1) {
      const bool arrived = storage.an_epoch_arrives_while_busy();
      std::lock_guard lock(storage.mutex);
      storage.epoch_during_finish = arrived;
    }
    on_result(std::move(result));
  };
  run_jobs(backend, test_data(), {.slots = 2}, callbacks);
  EXPECT_EQ(storage.epoch_during_finish, true) << "trial 0 reported no epoch while trial 1's result was stored";
  EXPECT_EQ(storage.epoch_during_claim, true) << "trial 0 reported no epoch while a slot claimed its next job";
  EXPECT_EQ(queue.results[0].outcome, JobOutcome::stopped);
  EXPECT_EQ(queue.results[1].outcome, JobOutcome::completed);
}

TEST(Executor, StopDecisionEndsOnlyThatJob) {
  FakeBackend backend;
  JobQueue queue;
  for (int id = 0; id < 3; ++id) queue.jobs.push_back(make_job(id, 4));
  queue.decide = [](int id, const EpochReport& report) {
    return id == 1 && report.epoch == 2 ? Decision::stop : Decision::proceed;
  };
  run_jobs(backend, test_data(), {.slots = 3}, queue.callbacks());
  EXPECT_EQ(queue.results[1].outcome, JobOutcome::stopped);
  EXPECT_EQ(queue.epochs_reported[1], range(1, 2));
  EXPECT_EQ(last_epoch(queue.results[1]), 2);
  EXPECT_FALSE(queue.results[1].state.has_value());
  EXPECT_EQ(queue.results[0].outcome, JobOutcome::completed);
  EXPECT_EQ(queue.results[2].outcome, JobOutcome::completed);
}

TEST(Executor, ThrowingTrainerFailsOnlyItsOwnJob) {
  FakeScript script{.epoch_sleep = milliseconds(2)};
  script.throw_at_epoch = {
      {1, {2, ThrowKind::mlptune_error}}, {2, {1, ThrowKind::bad_alloc}}, {3, {3, ThrowKind::not_an_exception}}};
  FakeBackend backend(script);
  JobQueue queue;
  for (int id = 0; id < 6; ++id) queue.jobs.push_back(make_job(id, 4));
  run_jobs(backend, test_data(), {.slots = 3, .keep_final_state = true}, queue.callbacks());
  ASSERT_EQ(queue.results.size(), 6u);
  EXPECT_EQ(queue.results[1].outcome, JobOutcome::failed);
  EXPECT_EQ(queue.results[1].message, "out of device memory in epoch 2");
  EXPECT_EQ(queue.epochs_reported[1], range(1, 1));
  EXPECT_EQ(last_epoch(queue.results[1]), 1) << "the last epoch before the failure is kept";
  EXPECT_FALSE(queue.results[1].state.has_value());
  EXPECT_EQ(queue.results[2].outcome, JobOutcome::failed);
  EXPECT_EQ(queue.results[2].message, "out of host memory (std::bad_alloc)");
  EXPECT_EQ(queue.results[3].outcome, JobOutcome::failed);
  EXPECT_EQ(queue.results[3].message, "unknown exception from the trainer");
  for (int id : {0, 4, 5}) EXPECT_EQ(queue.results[id].outcome, JobOutcome::completed) << "trial " << id;
}

TEST(Executor, ExceptionInMakeTrainerIsAFailedJob) {
  FakeScript script;
  script.throw_in_make_trainer = {0};
  FakeBackend backend(script);
  JobQueue queue;
  queue.jobs.push_back(make_job(0, 2));
  queue.jobs.push_back(make_job(1, 2));
  run_jobs(backend, test_data(), {.slots = 1}, queue.callbacks());
  EXPECT_EQ(queue.results[0].outcome, JobOutcome::failed);
  EXPECT_EQ(queue.results[0].message, "input width 3 does not match the data's 4 columns");
  EXPECT_FALSE(queue.results[0].last_epoch.has_value());
  EXPECT_EQ(queue.results[1].outcome, JobOutcome::completed);
}

TEST(Executor, DivergedReportEndsTheJobWithItsMessage) {
  FakeScript script;
  script.diverge_at_epoch = {{0, 2}};
  FakeBackend backend(script);
  JobQueue queue;
  queue.jobs.push_back(make_job(0, 5));
  run_jobs(backend, test_data(), {.slots = 1}, queue.callbacks());
  EXPECT_EQ(queue.results[0].outcome, JobOutcome::diverged);
  EXPECT_EQ(queue.results[0].message, "diverged at epoch 2, step 20");
  EXPECT_EQ(queue.epochs_reported[0], range(1, 2));
  EXPECT_EQ(last_epoch(queue.results[0]), 2);
  EXPECT_TRUE(std::isnan(queue.results[0].test.loss)) << "a diverged model is not evaluated";
}

// A waiting slot is woken by another job's epoch and takes the work that epoch made (as a
// scheduler's promotion does), whether the source said `wait` or `finished` while it was empty.
class WaitingSlot : public ::testing::TestWithParam<NextJob::Kind> {};

TEST_P(WaitingSlot, WakesOnAnEpochAndRunsTheNewWork) {
  FakeBackend backend(FakeScript{.epoch_sleep = milliseconds(40)});
  JobQueue queue;
  queue.when_empty = GetParam();
  queue.jobs.push_back(make_job(0, 6));
  queue.decide = [&queue](int id, const EpochReport& report) {
    if (id == 0 && report.epoch == 2) queue.jobs.push_back(make_job(1, 1));
    return Decision::proceed;
  };
  run_jobs(backend, test_data(), {.slots = 2}, queue.callbacks());
  EXPECT_EQ(queue.results[0].outcome, JobOutcome::completed);
  EXPECT_EQ(queue.results[1].outcome, JobOutcome::completed);
  EXPECT_EQ(backend.max_active(), 2) << "the new job ran beside the first, on the slot that was waiting";
  // About 10 asks: one per event while waiting. A slot that polled instead would ask thousands of times.
  EXPECT_LE(queue.next_job_calls, 20);
}

INSTANTIATE_TEST_SUITE_P(Executor, WaitingSlot, ::testing::Values(NextJob::Kind::wait, NextJob::Kind::finished),
                         [](const auto& info) { return info.param == NextJob::Kind::wait ? "wait" : "finished"; });

TEST(Executor, PromotionFromAPausedResultRunsBeforeTheEnd) {
  FakeBackend backend;
  JobQueue queue;
  queue.jobs.push_back(make_job(0, 4, /*pause_after_epoch=*/1));
  queue.after_result = [&queue](const JobResult& result) {
    if (result.outcome != JobOutcome::paused) return;
    TrialJob promoted = make_job(result.trial_id + 100, 4);
    promoted.resume_from = result.state;
    queue.jobs.push_back(promoted);
  };
  run_jobs(backend, test_data(), {.slots = 3}, queue.callbacks());
  EXPECT_EQ(queue.results[0].outcome, JobOutcome::paused);
  EXPECT_EQ(queue.results[100].outcome, JobOutcome::completed);
  EXPECT_EQ(queue.epochs_reported[100], range(2, 4));
  EXPECT_EQ(last_epoch(queue.results[100]), 4);
}

TEST(Executor, WaitWithNothingRunningIsAnError) {
  FakeBackend backend;
  ExecutorCallbacks always_wait{.next_job = [] { return NextJob::wait(); }};
  try {
    run_jobs(backend, test_data(), {.slots = 2}, always_wait);
    FAIL() << "expected Error";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "the job source answered 'wait' while no job runs: nothing could ever wake the slot");
  }
}

TEST(Executor, ExceptionFromACallbackEndsTheRunAndIsRethrown) {
  FakeBackend backend(FakeScript{.epoch_sleep = milliseconds(5)});
  JobQueue queue;
  for (int id = 0; id < 6; ++id) queue.jobs.push_back(make_job(id, 3));
  queue.after_result = [](const JobResult&) { throw std::logic_error("the caller's bookkeeping broke"); };
  EXPECT_THROW(run_jobs(backend, test_data(), {.slots = 2}, queue.callbacks()), std::logic_error);
  EXPECT_EQ(queue.result_count.size(), 1u) << "no callback runs after one has thrown";
}

TEST(Executor, RejectsInvalidOptions) {
  FakeBackend backend;
  JobQueue queue;
  EXPECT_THROW(run_jobs(backend, test_data(), {.slots = 0}, queue.callbacks()), ConfigError);
  EXPECT_THROW(run_jobs(backend, test_data(), {.slots = 1}, ExecutorCallbacks{}), ConfigError);
}

TEST(Executor, OutcomesHaveNames) {
  EXPECT_EQ(to_string(JobOutcome::completed), "completed");
  EXPECT_EQ(to_string(JobOutcome::stopped_early), "stopped_early");
  EXPECT_EQ(to_string(JobOutcome::diverged), "diverged");
  EXPECT_EQ(to_string(JobOutcome::failed), "failed");
  EXPECT_EQ(to_string(JobOutcome::paused), "paused");
  EXPECT_EQ(to_string(JobOutcome::stopped), "stopped");
  EXPECT_EQ(to_string(JobOutcome::suspended), "suspended");
}

}  // namespace
}  // namespace mlptune
