// The soak test of a study's durability: twenty kill -9s at random points, trials longer than the
// gaps between them, then a last run that must end the study exactly (label slow: it runs ~5 s of
// real time and its gaps assume an unsanitised build).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <random>

#include "tune/study_test_support.hpp"

namespace mlptune::tune {
namespace {

using testing::fake_parts;
using testing::fake_study_config;
using testing::TempFolder;

std::vector<TrialRecord> read_trials(const std::filesystem::path& database) {
  auto storage = open_sqlite_storage(database);
  const auto study = storage->find_study("fake");
  return study ? storage->trial_records(study->id) : std::vector<TrialRecord>{};
}

// Work done so far: full trials for finished ones, the checkpointed epochs of the others.
int epochs_kept(const std::vector<TrialRecord>& records, int epochs) {
  int kept = 0;
  for (const auto& record : records) kept += is_finished(record.trial.state) ? epochs : record.checkpoint_epoch;
  return kept;
}

// Twenty kill -9s at random points of a study whose trials last longer than the gap between kills:
// without checkpoints no trial could ever finish. With them the study makes progress between
// kills, and a last run ends it exactly: run_cap trials, every number once, none left running,
// every epoch's value the fake trainer's, and no temporary file left behind. Each kill falls at a
// random point after the run's first new checkpoint, so that every gap makes progress however
// long the process takes to start on a busy machine.
TEST(StudySoak, TwentyKillsAtRandomPointsLoseAtMostTheEpochsSinceACheckpoint) {
  TempFolder folder;
  const auto database = folder.file("study.db");
  // A trial: 1.2 s, a gap: a first checkpoint and 0-150 ms; the study (12 trials, 3 at once)
  // outlasts the twenty gaps.
  constexpr int kCap = 12, kLongEpochs = 60, kEpochMs = 20;
  StudyOptions options;
  options.storage_path = database;
  options.checkpoint_every_seconds = 0.0;
  std::mt19937 random(20261201);
  std::vector<int> kept{0};
  for (int kill = 0; kill < 20; ++kill) {
    const pid_t child = testing::fork_child(
        [&] { run_study(fake_study_config(kCap, kLongEpochs), options, fake_parts(kLongEpochs, kEpochMs, 3)); });
    const auto progress = [&] {
      return std::filesystem::exists(database) && epochs_kept(read_trials(database), kLongEpochs) > kept.back();
    };
    for (int wait = 0; wait < 6000 && !progress(); ++wait)  // the limit only ends a failing test
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution(0, 150)(random)));
    ::kill(child, SIGKILL);
    testing::wait_exit_code(child);
    kept.push_back(epochs_kept(read_trials(database), kLongEpochs));
  }
  int gaps_with_progress = 0;
  for (std::size_t i = 1; i < kept.size(); ++i) {
    EXPECT_GE(kept[i], kept[i - 1]) << "kill " << i << " lost checkpointed work";
    gaps_with_progress += kept[i] > kept[i - 1];
  }
  EXPECT_EQ(gaps_with_progress, 20) << "every gap between kills should add checkpointed epochs";
  EXPECT_LT(kept.back(), kCap * kLongEpochs) << "the kills should all fall before the study's end";

  run_study(fake_study_config(kCap, kLongEpochs), options, fake_parts(kLongEpochs, 1, 3));
  const auto records = read_trials(database);
  ASSERT_EQ(records.size(), std::size_t(kCap));
  const TrialSpec base = default_trial_spec(*testing::tiny_data());
  for (int number = 0; number < kCap; ++number) {
    const auto& trial = records[std::size_t(number)].trial;
    EXPECT_EQ(trial.number, number);
    EXPECT_EQ(trial.state, RunState::complete) << "trial " << number;
    ASSERT_EQ(trial.intermediate.size(), std::size_t(kLongEpochs)) << "trial " << number;
    for (const auto& [epoch, value] : trial.intermediate)
      EXPECT_DOUBLE_EQ(value, testing::fake_validation_loss(params_to_spec(trial.params, base), epoch))
          << "trial " << number << " epoch " << epoch;
  }
  for (const auto& entry : std::filesystem::recursive_directory_iterator(folder.file("")))
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
}

}  // namespace
}  // namespace mlptune::tune
