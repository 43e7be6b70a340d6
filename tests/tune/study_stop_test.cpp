// Stopping a study gracefully (a signal's stop request, a time budget): no trial starts after it,
// running ones end at their next epoch end, saved and waiting, and the next run continues them
// without training an epoch twice. Without run_cap a study runs until such a stop.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "tune/study_test_support.hpp"

namespace mlptune::tune {
namespace {

using testing::fake_parts;
using testing::fake_study_config;

TEST(StopRequest, TheFirstCauseWinsAndASpentBudgetBecomesOne) {
  StopRequest signalled;
  EXPECT_FALSE(signalled.requested());
  EXPECT_FALSE(signalled.seconds_left().has_value());
  signalled.request(StopCause::terminate);
  signalled.request(StopCause::interrupt);
  EXPECT_EQ(signalled.cause(), StopCause::terminate);
  EXPECT_EQ(signalled.reason(), "SIGTERM");

  StopRequest pending;  // an hour: not spent by the next line on any machine
  pending.stop_after(3600.0);
  EXPECT_EQ(pending.cause(), StopCause::none);
  EXPECT_GT(*pending.seconds_left(), 0.0);

  StopRequest timed;
  timed.stop_after(0.05);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(timed.cause(), StopCause::time_budget);
  EXPECT_EQ(*timed.seconds_left(), 0.0);
  timed.request(StopCause::interrupt);
  EXPECT_EQ(timed.cause(), StopCause::time_budget) << "the budget was spent first";
  EXPECT_EQ(timed.reason(), "the time budget of 0.1s is spent");

  StopRequest forever;
  forever.stop_after(1e300);
  EXPECT_EQ(forever.cause(), StopCause::none) << "a huge budget neither overflows nor ends at once";
}

class StudyStop : public testing::StudyFixture {
 protected:
  static int stored_epochs(const std::vector<TrialRecord>& records) {
    int epochs = 0;
    for (const auto& record : records) epochs += int(record.trial.intermediate.size());
    return epochs;
  }
  // A suspended trial: waiting (not paused), its checkpoint after its last stored epoch, epochs 1..n.
  void expect_saved_at_its_last_epoch(const TrialRecord& record) {
    SCOPED_TRACE("trial " + std::to_string(record.trial.number));
    EXPECT_EQ(record.trial.state, RunState::waiting);
    EXPECT_FALSE(is_paused(record.trial));
    ASSERT_FALSE(record.trial.intermediate.empty());
    EXPECT_EQ(record.checkpoint_epoch, record.trial.intermediate.rbegin()->first);
    EXPECT_EQ(record.checkpoint_epoch, int(record.trial.intermediate.size()));
    auto storage = open_sqlite_storage(folder_.file("study.db"));
    EXPECT_TRUE(storage->load_checkpoint(storage->find_study("fake")->id, record.trial.number).has_value());
  }
};

// A backend whose trainers request a stop (as the signal watcher does) the moment the `after`th
// epoch of the study ends, before that epoch is reported: the stop lands where the test wants it
// however the machine schedules the trials' threads.
class StopAfterEpochs final : public Backend {
 public:
  StopAfterEpochs(std::unique_ptr<Backend> inner, std::shared_ptr<StopRequest> stop, int after)
      : inner_(std::move(inner)), stop_(std::move(stop)), after_(after) {}
  std::string name() const override { return inner_->name(); }
  BackendKind kind() const override { return inner_->kind(); }
  int recommended_concurrency() const override { return inner_->recommended_concurrency(); }
  std::unique_ptr<Trainer> make_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> data) override {
    return std::make_unique<Stopping>(inner_->make_trainer(spec, std::move(data)), *this);
  }

 private:
  class Stopping final : public Trainer {
   public:
    Stopping(std::unique_ptr<Trainer> inner, StopAfterEpochs& backend) : inner_(std::move(inner)), backend_(backend) {}
    EpochReport train_epoch() override {
      EpochReport report = inner_->train_epoch();
      if (++backend_.epochs_ == backend_.after_) backend_.stop_->request(StopCause::interrupt);
      return report;
    }
    Metrics evaluate(const Dataset& split) override { return inner_->evaluate(split); }
    std::vector<float> predict(const Dataset& data) override { return inner_->predict(data); }
    TrialState state() const override { return inner_->state(); }
    void load_state(const TrialState& state) override { inner_->load_state(state); }
    void extend_epochs(int epochs) override { inner_->extend_epochs(epochs); }
    const TrialSpec& spec() const override { return inner_->spec(); }

   private:
    std::unique_ptr<Trainer> inner_;
    StopAfterEpochs& backend_;
  };

  std::unique_ptr<Backend> inner_;
  std::shared_ptr<StopRequest> stop_;
  int after_;
  std::atomic<int> epochs_{0};
};

TEST_F(StudyStop, AStopStartsNoTrialAndLeavesTheRunningOnesSavedAtTheirLastEpoch) {
  const StudyConfig config = fake_study_config(6, 20);
  StudyOptions stopped = options();
  stopped.stop = std::make_shared<StopRequest>();
  std::shared_ptr<std::atomic<int>> epochs;
  StudyParts parts = fake_parts(20, /*sleep_ms=*/10, /*concurrency=*/2, 0.1, &epochs);
  parts.backend = std::make_unique<StopAfterEpochs>(std::move(parts.backend), stopped.stop, 5);
  const StudyResult result = run_study(config, stopped, std::move(parts));
  EXPECT_LE(epochs->load(), 5 + 1) << "the other trial's epoch ends; no epoch starts after the stop";
  EXPECT_EQ(result.stopped_by, StopCause::interrupt);
  EXPECT_EQ(result.stop_reason, "Ctrl-C (SIGINT)");
  std::vector<int> suspended = result.suspended;
  std::sort(suspended.begin(), suspended.end());
  EXPECT_EQ(suspended, (std::vector<int>{0, 1}));
  const auto first = records();
  ASSERT_EQ(first.size(), 2u) << "only the two trials running at the stop exist";
  for (const auto& record : first) expect_saved_at_its_last_epoch(record);
  EXPECT_EQ(stored_epochs(first), epochs->load()) << "every epoch trained is kept";

  std::shared_ptr<std::atomic<int>> more_epochs;
  const StudyResult second = run_study(config, options(), fake_parts(20, 1, 2, 0.1, &more_epochs));
  EXPECT_EQ(second.stopped_by, StopCause::none);
  EXPECT_TRUE(second.suspended.empty());
  const auto all = records();
  ASSERT_EQ(all.size(), 6u);
  for (const auto& record : all) {
    EXPECT_EQ(record.trial.state, RunState::complete) << record.trial.number;
    EXPECT_EQ(record.trial.intermediate.size(), 20u) << record.trial.number;
  }
  EXPECT_EQ(more_epochs->load(), 6 * 20 - stored_epochs(first)) << "the saved trials continue; none retrains";
}

// No run_cap: the study would run for ever; its time budget ends it, the same way as a signal. The
// budget is ten trials long, so that the first trials end within it on a slow machine too.
TEST_F(StudyStop, ATimeBudgetEndsAStudyWithoutRunCapAndTheNextRunHasAFreshOne) {
  const StudyConfig config = fake_study_config(/*run_cap=*/0, 10);
  StudyOptions timed = options();
  timed.timeout_seconds = 2.0;
  std::vector<std::string> events;
  std::shared_ptr<std::atomic<int>> epochs;
  const auto start = std::chrono::steady_clock::now();
  const StudyResult result = run_study(config, timed, fake_parts(10, 20, 2, 0.1, &epochs),
                                       [&](const StudyProgress& progress) { events.push_back(progress.event); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(seconds, 2.0);
  EXPECT_EQ(result.stopped_by, StopCause::time_budget);
  EXPECT_EQ(result.stop_reason, "the time budget of 2.0s is spent");
  EXPECT_EQ(result.progress.run_cap, 0);
  EXPECT_GE(result.progress.complete, 2) << "trials of 200 ms, 2 at once, for 2 s";
  EXPECT_FALSE(result.suspended.empty()) << "the budget ends mid-trial: the running trials are saved";
  ASSERT_FALSE(events.empty());
  EXPECT_NE(events.front().find("no trial starts after 2.0s (the timeout)"), std::string::npos) << events.front();
  const auto first = records();
  int waiting = 0;
  for (const auto& record : first) {
    EXPECT_NE(record.trial.state, RunState::running) << record.trial.number;
    if (record.trial.state != RunState::waiting) continue;
    expect_saved_at_its_last_epoch(record);
    ++waiting;
  }
  EXPECT_EQ(waiting, int(result.suspended.size()));

  std::shared_ptr<std::atomic<int>> more_epochs;
  const StudyResult second = run_study(config, timed, fake_parts(10, 20, 2, 0.1, &more_epochs));
  EXPECT_EQ(second.stopped_by, StopCause::time_budget);
  const auto after = records();
  EXPECT_GT(after.size(), first.size()) << "a fresh budget: new trials ran";
  for (const auto& record : first)
    if (record.trial.state == RunState::waiting) {
      EXPECT_EQ(after[std::size_t(record.trial.number)].trial.state, RunState::complete) << "continued first";
    }
  EXPECT_EQ(stored_epochs(after), epochs->load() + more_epochs->load()) << "no epoch trained twice or lost";
}

// mlptune.timeout is the budget unless --timeout (options.timeout_seconds) gives another.
TEST_F(StudyStop, TheConfigsTimeoutIsTheBudgetAndTheOptionReplacesIt) {
  StudyConfig config = fake_study_config(/*run_cap=*/0, 3);
  config.settings.timeout_seconds = 0.2;
  EXPECT_EQ(run_study(config, options(), fake_parts(3, 5, 2)).stop_reason, "the time budget of 0.2s is spent");

  config.settings.timeout_seconds = 3600.0;
  StudyOptions shorter = options();
  shorter.timeout_seconds = 0.3;
  EXPECT_EQ(run_study(config, shorter, fake_parts(3, 5, 2)).stop_reason, "the time budget of 0.3s is spent");
}

TEST_F(StudyStop, WithoutRunCapOrTimeoutTheStudyRunsUntilItIsStopped) {
  const StudyConfig config = fake_study_config(/*run_cap=*/0, 2);
  StudyOptions stopped = options();
  stopped.stop = std::make_shared<StopRequest>();
  std::vector<StudyProgress> seen;
  const StudyResult result = run_study(config, stopped, fake_parts(2, 1, 2), [&](const StudyProgress& progress) {
    seen.push_back(progress);
    if (progress.complete >= 40) stopped.stop->request(StopCause::terminate);
  });
  EXPECT_EQ(result.stopped_by, StopCause::terminate);
  EXPECT_GE(result.progress.complete, 40) << "far beyond any default number of trials";
  ASSERT_FALSE(seen.empty());
  EXPECT_NE(seen.front().event.find("no run_cap and no timeout: it runs until stopped (Ctrl-C)"), std::string::npos)
      << seen.front().event;
  EXPECT_EQ(seen.front().run_cap, 0);
  EXPECT_FALSE(seen.front().eta_seconds.has_value());
  EXPECT_TRUE(seen.back().stopping);
}

// Rung schedulers without run_cap: brackets and rungs go on, trials complete, until a stop (here
// after two complete; the time budget only guards against a study that would never get there).
TEST_F(StudyStop, RungSchedulersWithoutRunCapRunUntilStopped) {
  for (const PrunerKind pruner : {PrunerKind::asha, PrunerKind::hyperband}) {
    SCOPED_TRACE(std::string(to_string(pruner)));
    std::filesystem::remove_all(folder_.file(""));
    std::filesystem::create_directories(folder_.file(""));
    StudyConfig config = fake_study_config(/*run_cap=*/0, 9);
    config.early_terminate = {pruner, 1, 9, 0, 3.0};
    StudyOptions stopped = options();
    stopped.timeout_seconds = 120.0;
    stopped.stop = std::make_shared<StopRequest>();
    const StudyResult result = run_study(config, stopped, fake_parts(9, 2, 3), [&](const StudyProgress& progress) {
      if (progress.complete >= 2) stopped.stop->request(StopCause::interrupt);
    });
    EXPECT_EQ(result.stopped_by, StopCause::interrupt) << "two trials completed";
    EXPECT_GE(result.progress.pruned + result.progress.paused, 1) << "rungs hold back or prune trials as with a cap";
    for (const auto& record : records()) EXPECT_NE(record.trial.state, RunState::running) << record.trial.number;
  }
}

// Trials paused at a rung stay paused through a stop (they are not pruned as leftovers), so the next
// run can still promote them.
TEST_F(StudyStop, PausedTrialsStayPausedForTheNextRun) {
  StudyConfig config = fake_study_config(18, 9);
  config.early_terminate = {PrunerKind::asha, 1, 9, 0, 3.0};
  StudyOptions stopped = options();
  stopped.stop = std::make_shared<StopRequest>();
  std::shared_ptr<std::atomic<int>> epochs;
  StudyParts parts = fake_parts(9, 5, 2, 0.1, &epochs);
  parts.backend = std::make_unique<StopAfterEpochs>(std::move(parts.backend), stopped.stop, 12);
  run_study(config, stopped, std::move(parts));
  int paused = 0;
  for (const auto& record : records()) {
    paused += is_paused(record.trial);
    EXPECT_EQ(record.trial.message.find("still paused when the study ended"), std::string::npos);
    EXPECT_NE(record.trial.state, RunState::running);
  }
  EXPECT_GT(paused, 0) << "the stop should catch trials paused at ASHA's first rung";
  std::shared_ptr<std::atomic<int>> more_epochs;
  run_study(config, options(), fake_parts(9, 1, 2, 0.1, &more_epochs));
  const auto all = records();
  ASSERT_EQ(all.size(), 18u);
  for (const auto& record : all) EXPECT_TRUE(is_finished(record.trial.state)) << record.trial.number;
  EXPECT_EQ(stored_epochs(all), epochs->load() + more_epochs->load()) << "no epoch trained twice or lost";
}

}  // namespace
}  // namespace mlptune::tune
