// Studies survive kill -9 and share a file between processes: no finished trial lost, none
// duplicated, every number once, and the run cap met exactly.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>

#include "tune/study_test_support.hpp"

namespace mlptune::tune {
namespace {

using testing::fake_parts;
using testing::fake_study_config;
using testing::TempFolder;

constexpr int kRunCap = 30;
constexpr int kEpochs = 4;

StudyOptions options_for(const std::filesystem::path& database) {
  StudyOptions options;
  options.storage_path = database;
  return options;
}

std::vector<TrialRecord> read_trials(const std::filesystem::path& database) {
  auto storage = open_sqlite_storage(database);
  const auto study = storage->find_study("fake");
  return study ? storage->trial_records(study->id) : std::vector<TrialRecord>{};
}

int count_state(const std::vector<TrialRecord>& records, RunState state) {
  return int(std::count_if(records.begin(), records.end(), [state](auto& r) { return r.trial.state == state; }));
}

void expect_every_number_once_and_finished(const std::vector<TrialRecord>& records) {
  ASSERT_EQ(records.size(), std::size_t(kRunCap));
  for (int number = 0; number < kRunCap; ++number) {
    EXPECT_EQ(records[std::size_t(number)].trial.number, number);
    EXPECT_EQ(records[std::size_t(number)].trial.state, RunState::complete) << "trial " << number;
    EXPECT_EQ(records[std::size_t(number)].trial.intermediate.size(), std::size_t(kEpochs)) << "trial " << number;
  }
}

// The study's process kills itself (as kill -9 would) at a chosen point, so the kill catches the
// study in the state a test needs however fast the machine runs it: just before the `finishes`th
// end of a trial is written (that trial still runs), ...
class KilledBeforeAFinish final : public testing::ForwardingStorage {
 public:
  KilledBeforeAFinish(std::unique_ptr<Storage> inner, int finishes)
      : ForwardingStorage(std::move(inner)), finishes_left_(finishes) {}
  bool finish_trial(const TrialClaim& claim, RunState state, std::optional<double> value,
                    const std::string& message) override {
    if (--finishes_left_ == 0) ::raise(SIGKILL);
    return ForwardingStorage::finish_trial(claim, state, value, message);
  }

 private:
  std::atomic<int> finishes_left_;
};

// ... or once `trials` unfinished trials have each stored a checkpoint after epoch `epoch` or later.
class KilledAfterCheckpoints final : public testing::ForwardingStorage {
 public:
  KilledAfterCheckpoints(std::unique_ptr<Storage> inner, int trials, int epoch)
      : ForwardingStorage(std::move(inner)), trials_(trials), epoch_(epoch) {}
  bool checkpoint_trial(const TrialClaim& claim, int epoch, const std::string& checkpoint) override {
    const bool stored = ForwardingStorage::checkpoint_trial(claim, epoch, checkpoint);
    std::lock_guard lock(mutex_);
    if (stored && epoch >= epoch_) checkpointed_.insert(claim.number);
    if (int(checkpointed_.size()) >= trials_) ::raise(SIGKILL);
    return stored;
  }
  bool finish_trial(const TrialClaim& claim, RunState state, std::optional<double> value,
                    const std::string& message) override {
    {
      std::lock_guard lock(mutex_);
      checkpointed_.erase(claim.number);
    }
    return ForwardingStorage::finish_trial(claim, state, value, message);
  }

 private:
  int trials_, epoch_;
  std::mutex mutex_;
  std::set<int> checkpointed_;  // trial numbers
};

TEST(StudyDurability, KillNineMidStudyThenRerunLosesAndDuplicatesNothing) {
  TempFolder folder;
  const auto database = folder.file("study.db");
  // Killed once five trials finished, while the sixth (and maybe others) runs.
  const pid_t child = testing::fork_child([&] {
    StudyParts parts = fake_parts(kEpochs, 15, 3);
    parts.storage = std::make_unique<KilledBeforeAFinish>(open_sqlite_storage(database), 6);
    run_study(fake_study_config(kRunCap, kEpochs), options_for(database), std::move(parts));
  });
  ASSERT_EQ(testing::wait_exit_code(child), -1) << "the study should have been killed mid-run";
  std::vector<TrialRecord> before = read_trials(database);
  ASSERT_GE(count_state(before, RunState::complete), 5);
  ASSERT_GE(count_state(before, RunState::running), 1) << "the kill should catch trials mid-run";
  ASSERT_LT(int(before.size()), kRunCap + 1);

  run_study(fake_study_config(kRunCap, kEpochs), options_for(database), fake_parts(kEpochs, 1, 3));
  const auto after = read_trials(database);
  expect_every_number_once_and_finished(after);
  for (const auto& old : before) {
    if (old.trial.state != RunState::complete) continue;
    const auto& now = after[std::size_t(old.trial.number)].trial;
    EXPECT_EQ(now.finished_at, old.trial.finished_at) << "finished trial " << old.trial.number << " was re-run";
    EXPECT_EQ(now.value, old.trial.value);
  }
  for (const auto& old : before)  // interrupted trials re-ran with the same params and seed
    if (old.trial.state == RunState::running) {
      EXPECT_EQ(after[std::size_t(old.trial.number)].trial.params, old.trial.params);
      EXPECT_EQ(after[std::size_t(old.trial.number)].trial.seed, old.trial.seed);
    }
}

// Trials long enough that every kill catches them mid-run: each keeps its checkpoints, and the
// rerun continues them instead of training their epochs again.
TEST(StudyDurability, KillNineMidTrialThenRerunContinuesFromCheckpoints) {
  TempFolder folder;
  const auto database = folder.file("study.db");
  constexpr int kLongEpochs = 30;
  StudyOptions options = options_for(database);
  options.checkpoint_every_seconds = 0.0;
  const pid_t child = testing::fork_child([&] {
    StudyParts parts = fake_parts(kLongEpochs, 10, 3);
    parts.storage = std::make_unique<KilledAfterCheckpoints>(open_sqlite_storage(database), 2, 5);
    run_study(fake_study_config(6, kLongEpochs), options, std::move(parts));
  });
  ASSERT_EQ(testing::wait_exit_code(child), -1) << "the study should have been killed mid-run";
  const std::vector<TrialRecord> before = read_trials(database);
  int checkpointed_epochs = 0;
  for (const auto& record : before)
    if (record.trial.state == RunState::running) checkpointed_epochs += record.checkpoint_epoch;
  ASSERT_GE(checkpointed_epochs, 10) << "the kill should catch trials with checkpoints";

  std::vector<std::string> events;
  std::shared_ptr<std::atomic<int>> epochs_trained;
  run_study(fake_study_config(6, kLongEpochs), options, fake_parts(kLongEpochs, 1, 3, 0.1, &epochs_trained),
            [&](const StudyProgress& progress) { events.push_back(progress.event); });
  const auto after = read_trials(database);
  ASSERT_EQ(after.size(), 6u);
  for (const auto& record : after) {
    EXPECT_EQ(record.trial.state, RunState::complete) << "trial " << record.trial.number;
    EXPECT_EQ(record.trial.intermediate.size(), std::size_t(kLongEpochs)) << "trial " << record.trial.number;
  }
  int finished_before = 0;
  for (const auto& record : before) finished_before += record.trial.state == RunState::complete;
  EXPECT_EQ(epochs_trained->load(), (6 - finished_before) * kLongEpochs - checkpointed_epochs)
      << "every checkpointed epoch is kept";

  ASSERT_FALSE(events.empty());
  EXPECT_NE(events.front().find("study fake resumed"), std::string::npos) << events.front();
  EXPECT_NE(events.front().find("from checkpoints"), std::string::npos) << events.front();
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](auto& e) {
    return e.find("resumed from its checkpoint after epoch") != std::string::npos;
  }));
}

TEST(StudyDurability, TwoProcessesOnOneStudyShareTheWorkWithoutLockErrors) {
  TempFolder folder;
  const auto database = folder.file("study.db");
  std::vector<pid_t> children;
  for (int process = 0; process < 2; ++process)
    children.push_back(testing::fork_child(
        [&] { run_study(fake_study_config(kRunCap, kEpochs), options_for(database), fake_parts(kEpochs, 3, 2)); }));
  for (pid_t child : children)
    EXPECT_EQ(testing::wait_exit_code(child), 0) << "a process failed (its message is above, e.g. database is locked)";
  const auto records = read_trials(database);
  expect_every_number_once_and_finished(records);
  std::set<int> owners;
  for (const auto& record : records) owners.insert(record.owner.pid);
  EXPECT_EQ(owners.size(), 2u) << "both processes should have run trials";
}

}  // namespace
}  // namespace mlptune::tune
