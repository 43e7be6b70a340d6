// Studies survive kill -9 and share a file between processes: no finished trial lost, none
// duplicated, every number once, and the run cap met exactly.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
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

TEST(StudyDurability, KillNineMidStudyThenRerunLosesAndDuplicatesNothing) {
  TempFolder folder;
  const auto database = folder.file("study.db");
  const pid_t child = testing::fork_child(
      [&] { run_study(fake_study_config(kRunCap, kEpochs), options_for(database), fake_parts(kEpochs, 15, 3)); });
  // Kill once some trials finished while others run.
  std::vector<TrialRecord> before;
  for (int attempt = 0; attempt < 2000; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!std::filesystem::exists(database)) continue;
    before = read_trials(database);
    if (count_state(before, RunState::complete) >= 5 && count_state(before, RunState::running) >= 1) break;
  }
  ::kill(child, SIGKILL);
  testing::wait_exit_code(child);
  before = read_trials(database);
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
  const pid_t child = testing::fork_child(
      [&] { run_study(fake_study_config(6, kLongEpochs), options, fake_parts(kLongEpochs, 10, 3)); });
  std::vector<TrialRecord> before;
  for (int attempt = 0; attempt < 2000; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!std::filesystem::exists(database)) continue;
    before = read_trials(database);
    if (std::count_if(before.begin(), before.end(), [](auto& r) { return r.checkpoint_epoch >= 5; }) >= 2) break;
  }
  ::kill(child, SIGKILL);
  testing::wait_exit_code(child);
  before = read_trials(database);
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
