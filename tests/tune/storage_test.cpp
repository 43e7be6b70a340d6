// The shared Storage suite (every storage implementation runs it): studies, claiming numbers,
// params round trips, pausing, finishing, requeueing abandoned trials, threads and processes.
#include "mlptune/tune/storage.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "tune/study_test_support.hpp"

namespace mlptune::tune {
namespace {

using testing::TempFolder;

struct SqliteFactory {
  static std::unique_ptr<Storage> open(const std::filesystem::path& folder) {
    return open_sqlite_storage(folder / "study.db");
  }
};

template <typename Factory>
class StorageTest : public ::testing::Test {
 protected:
  std::unique_ptr<Storage> open() { return Factory::open(folder_.file("")); }
  StudyInfo make_study(Storage& storage, const std::string& name = "study") {
    return storage.open_or_create_study({0, name, Goal::minimize, "method: random\n", 42, 0.0});
  }
  TempFolder folder_;
};

using StorageTypes = ::testing::Types<SqliteFactory>;
TYPED_TEST_SUITE(StorageTest, StorageTypes);

SampledTrial sample_with_lr(double lr) {
  SampledTrial sampled;
  sampled.params = {{"lr", lr}, {"batch_size", std::int64_t(64)}, {"activation", std::string("tanh")}};
  Distribution log_range;
  log_range.kind = DistributionKind::log_uniform_values;
  log_range.min = 1e-4;
  log_range.max = 1e-1;
  Distribution choices;
  choices.kind = DistributionKind::categorical;
  choices.values = {std::string("relu"), std::string("tanh")};
  sampled.distributions = {{"lr", log_range}, {"activation", choices}};
  sampled.seed = 0xFFFFFFFFFFFFFFF0ull;  // the top bit set: must survive SQLite's signed integers
  sampled.attributes = {{"command", "mlptune train --lr " + std::to_string(lr)}};
  return sampled;
}

SampleTrialFn sampler_counting_history(std::vector<std::size_t>* history_sizes) {
  return [history_sizes](std::span<const FrozenTrial> trials, int number) {
    if (history_sizes) history_sizes->push_back(trials.size());
    return sample_with_lr(0.001 * (number + 1));
  };
}

TYPED_TEST(StorageTest, OpensTheSameStudyAgainAndRejectsTheOtherDirection) {
  auto storage = this->open();
  const StudyInfo created = this->make_study(*storage);
  const StudyInfo opened = this->make_study(*storage);
  EXPECT_EQ(created.id, opened.id);
  EXPECT_EQ(opened.seed, 42u);
  EXPECT_EQ(opened.config_yaml, "method: random\n");
  EXPECT_NE(this->make_study(*storage, "other").id, created.id);
  EXPECT_EQ(storage->studies().size(), 2u);
  EXPECT_THROW(storage->open_or_create_study({0, "study", Goal::maximize, "", 42, 0.0}), StorageError);
  EXPECT_FALSE(storage->find_study("missing").has_value());
}

TYPED_TEST(StorageTest, ClaimsConsecutiveNumbersUpToTheRunCapAndShowsTheSamplerTheHistory) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  std::vector<std::size_t> history_sizes;
  const TrialOwner owner = current_owner();
  for (int expected = 0; expected < 4; ++expected) {
    auto claimed = storage->claim_trial(study, owner, 4, sampler_counting_history(&history_sizes));
    ASSERT_TRUE(claimed.has_value());
    EXPECT_EQ(claimed->trial.number, expected);
    EXPECT_EQ(claimed->trial.state, RunState::running);
    EXPECT_EQ(claimed->owner.pid, owner.pid);
  }
  EXPECT_FALSE(storage->claim_trial(study, owner, 4, sampler_counting_history(&history_sizes)).has_value());
  EXPECT_EQ(history_sizes, (std::vector<std::size_t>{0, 1, 2, 3}));
}

TYPED_TEST(StorageTest, KeepsParamsDistributionsSeedAndAttributes) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  storage->claim_trial(study, current_owner(), 0, sampler_counting_history(nullptr));
  const auto record = storage->trial_record(study, 0);
  ASSERT_TRUE(record.has_value());
  const SampledTrial expected = sample_with_lr(0.001);
  EXPECT_EQ(record->trial.params, expected.params);
  EXPECT_EQ(std::get<std::int64_t>(record->trial.params.at("batch_size")), 64);
  EXPECT_EQ(record->trial.seed, expected.seed);
  EXPECT_EQ(record->attributes, expected.attributes);
  ASSERT_EQ(record->distributions.size(), 2u);
  EXPECT_EQ(record->distributions.at("lr").kind, DistributionKind::log_uniform_values);
  EXPECT_DOUBLE_EQ(record->distributions.at("lr").max, 1e-1);
  EXPECT_EQ(record->distributions.at("activation").values, expected.distributions.at("activation").values);
  EXPECT_GT(record->trial.started_at, 1.6e9);
}

TYPED_TEST(StorageTest, RecordsIntermediateValuesPausesResumesAndFinishes) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  const TrialOwner owner = current_owner();
  storage->claim_trial(study, owner, 0, sampler_counting_history(nullptr));
  storage->record_intermediate(study, 0, 1, 0.9);
  storage->record_intermediate(study, 0, 2, 0.7);
  storage->record_intermediate(study, 0, 2, 0.6);  // a re-run epoch replaces the value
  const auto checkpoint = storage->checkpoint_path_for(study, 0);
  EXPECT_TRUE(std::filesystem::is_directory(checkpoint.parent_path()));
  storage->pause_trial(study, 0, 2, checkpoint.string());

  auto paused = storage->trial_record(study, 0);
  EXPECT_EQ(paused->trial.state, RunState::waiting);
  EXPECT_TRUE(is_paused(paused->trial));
  EXPECT_EQ(paused->trial.paused_epoch, 2);
  EXPECT_EQ(paused->checkpoint_path, checkpoint.string());
  EXPECT_EQ(paused->trial.intermediate, (std::map<int, double>{{1, 0.9}, {2, 0.6}}));
  // A paused trial is not handed out as new work; the next claim makes trial 1.
  EXPECT_EQ(storage->claim_trial(study, owner, 0, sampler_counting_history(nullptr))->trial.number, 1);

  EXPECT_TRUE(storage->claim_paused_trial(study, 0, owner));
  EXPECT_FALSE(storage->claim_paused_trial(study, 0, owner));  // taken already
  storage->finish_trial(study, 0, RunState::complete, 0.5, "");
  const auto finished = storage->trial_record(study, 0);
  EXPECT_EQ(finished->trial.state, RunState::complete);
  EXPECT_EQ(finished->trial.value, 0.5);
  EXPECT_GE(finished->trial.finished_at, finished->trial.started_at);
  EXPECT_EQ(finished->trial.paused_epoch, 0);

  storage->finish_trial(study, 1, RunState::failed, std::nullopt, "diverged at epoch 3, step 30");
  const auto failed = storage->trial_record(study, 1);
  EXPECT_EQ(failed->trial.state, RunState::failed);
  EXPECT_FALSE(failed->trial.value.has_value());
  EXPECT_EQ(failed->trial.message, "diverged at epoch 3, step 30");
  EXPECT_THROW(storage->finish_trial(study, 7, RunState::complete, 1.0, ""), StorageError);
  EXPECT_THROW(storage->finish_trial(study, 1, RunState::running, 1.0, ""), StorageError);
}

TYPED_TEST(StorageTest, RequeuesTrialsOfDeadProcessesWithTheSameNumberAndParams) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  TrialOwner dead = current_owner();
  dead.pid = testing::dead_pid();
  const TrialOwner me = current_owner();
  storage->claim_trial(study, dead, 0, sampler_counting_history(nullptr));  // 0: its owner died
  storage->claim_trial(study, me, 0, sampler_counting_history(nullptr));    // 1: still ours
  storage->claim_trial(study, dead, 0, sampler_counting_history(nullptr));  // 2: finished before dying
  storage->finish_trial(study, 2, RunState::complete, 1.5, "");
  storage->record_intermediate(study, 0, 1, 3.0);

  EXPECT_EQ(storage->requeue_abandoned_trials(study, me, 3600.0), std::vector<int>{0});
  const auto requeued = storage->trial_record(study, 0);
  EXPECT_EQ(requeued->trial.state, RunState::waiting);
  EXPECT_FALSE(is_paused(requeued->trial));
  EXPECT_TRUE(requeued->trial.intermediate.empty());

  auto again = storage->claim_trial(study, me, 3, sampler_counting_history(nullptr));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->trial.number, 0);
  EXPECT_EQ(again->trial.params, sample_with_lr(0.001).params);
  EXPECT_EQ(again->owner.token, me.token);
  EXPECT_FALSE(storage->claim_trial(study, me, 3, sampler_counting_history(nullptr)).has_value());
}

TYPED_TEST(StorageTest, ARunningTrialsCheckpointIsRecordedOnlyForItsOwner) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  const TrialOwner owner = current_owner();
  storage->claim_trial(study, owner, 0, sampler_counting_history(nullptr));
  const std::string path = storage->checkpoint_path_for(study, 0).string();
  EXPECT_FALSE(storage->checkpoint_trial(study, 0, current_owner(), 1, path)) << "another owner's write is refused";
  EXPECT_TRUE(storage->checkpoint_trial(study, 0, owner, 3, path));
  const auto record = storage->trial_record(study, 0);
  EXPECT_EQ(record->checkpoint_epoch, 3);
  EXPECT_EQ(record->checkpoint_path, path);
  EXPECT_EQ(record->trial.state, RunState::running);
  EXPECT_FALSE(is_paused(record->trial));
  storage->finish_trial(study, 0, RunState::complete, 1.0, "");
  EXPECT_FALSE(storage->checkpoint_trial(study, 0, owner, 4, path)) << "a finished trial takes no checkpoint";
}

TYPED_TEST(StorageTest, AnAbandonedTrialWithACheckpointContinuesFromItsEpoch) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  TrialOwner dead = current_owner();
  dead.pid = testing::dead_pid();
  const auto claimed = storage->claim_trial(study, dead, 0, sampler_counting_history(nullptr));
  const auto path = storage->checkpoint_path_for(study, 0);
  { std::ofstream(path) << "state"; }  // the storage checks only that the file exists
  for (int epoch = 1; epoch <= 4; ++epoch) storage->record_intermediate(study, 0, epoch, 1.0 / epoch);
  ASSERT_TRUE(storage->checkpoint_trial(study, 0, dead, 2, path.string()));

  const TrialOwner me = current_owner();
  EXPECT_EQ(storage->requeue_abandoned_trials(study, me, 3600.0), std::vector<int>{0});
  const auto requeued = storage->trial_record(study, 0);
  EXPECT_EQ(requeued->trial.state, RunState::waiting);
  EXPECT_FALSE(is_paused(requeued->trial)) << "waiting to continue, not paused at a rung";
  EXPECT_EQ(requeued->trial.intermediate, (std::map<int, double>{{1, 1.0}, {2, 0.5}})) << "epochs 3, 4 report again";
  EXPECT_EQ(requeued->checkpoint_epoch, 2);

  const auto again = storage->claim_trial(study, me, 1, sampler_counting_history(nullptr));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->trial.number, 0);
  EXPECT_EQ(again->checkpoint_epoch, 2);
  EXPECT_EQ(again->checkpoint_path, path.string());
  EXPECT_EQ(again->trial.started_at, claimed->trial.started_at) << "it continues, so it started when it first did";

  storage->finish_trial(study, 0, RunState::complete, 0.25, "");
  EXPECT_FALSE(std::filesystem::exists(path)) << "a finished trial's checkpoint is removed";
  EXPECT_EQ(storage->trial_record(study, 0)->checkpoint_epoch, 0);
}

// A run that stops gracefully leaves its trials waiting at their last epoch, for the next run.
TYPED_TEST(StorageTest, ASuspendedTrialWaitsWithItsValuesAndContinuesFromItsEpoch) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  const TrialOwner owner = current_owner();
  storage->claim_trial(study, owner, 0, sampler_counting_history(nullptr));
  for (int epoch = 1; epoch <= 3; ++epoch) storage->record_intermediate(study, 0, epoch, 1.0 / epoch);
  const std::string path = storage->checkpoint_path_for(study, 0).string();
  EXPECT_FALSE(storage->suspend_trial(study, 0, current_owner(), 3, path)) << "another owner's write is refused";
  EXPECT_EQ(storage->trial_record(study, 0)->trial.state, RunState::running);
  ASSERT_TRUE(storage->suspend_trial(study, 0, owner, 3, path));

  const auto suspended = storage->trial_record(study, 0);
  EXPECT_EQ(suspended->trial.state, RunState::waiting);
  EXPECT_FALSE(is_paused(suspended->trial)) << "waiting to continue, not paused at a rung";
  EXPECT_EQ(suspended->trial.intermediate.size(), 3u) << "every epoch it trained is kept";
  EXPECT_EQ(suspended->checkpoint_epoch, 3);
  EXPECT_EQ(suspended->checkpoint_path, path);
  EXPECT_FALSE(storage->suspend_trial(study, 0, owner, 3, path)) << "only a running trial is suspended";

  const TrialOwner next_run = current_owner();
  EXPECT_TRUE(storage->requeue_abandoned_trials(study, next_run, 3600.0).empty()) << "it is not abandoned";
  const auto again = storage->claim_trial(study, next_run, 1, sampler_counting_history(nullptr));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->trial.number, 0);
  EXPECT_EQ(again->trial.state, RunState::running);
  EXPECT_EQ(again->checkpoint_epoch, 3);
  EXPECT_EQ(again->trial.intermediate.size(), 3u);
}

TYPED_TEST(StorageTest, AnAbandonedTrialWhoseCheckpointFileIsGoneStartsOver) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  TrialOwner dead = current_owner();
  dead.pid = testing::dead_pid();
  storage->claim_trial(study, dead, 0, sampler_counting_history(nullptr));
  storage->record_intermediate(study, 0, 1, 1.0);
  ASSERT_TRUE(storage->checkpoint_trial(study, 0, dead, 1, storage->checkpoint_path_for(study, 0).string()));
  storage->requeue_abandoned_trials(study, current_owner(), 3600.0);
  const auto requeued = storage->trial_record(study, 0);
  EXPECT_TRUE(requeued->trial.intermediate.empty());
  EXPECT_EQ(requeued->checkpoint_epoch, 0);
  EXPECT_TRUE(requeued->checkpoint_path.empty());
}

TYPED_TEST(StorageTest, AChangedConfigurationIsRecordedWithThePreviousOne) {
  auto storage = this->open();
  const StudyInfo study = this->make_study(*storage);
  storage->change_study_config(study.id, "method: bayes\n");
  EXPECT_EQ(storage->find_study(study.name)->config_yaml, "method: bayes\n");
}

TYPED_TEST(StorageTest, RequeuesOtherHostsOnlyAfterTheirHeartbeatGoesStale) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  TrialOwner remote{"another-host", 1, "remote"};
  storage->claim_trial(study, remote, 0, sampler_counting_history(nullptr));
  const TrialOwner me = current_owner();
  EXPECT_TRUE(storage->requeue_abandoned_trials(study, me, 3600.0).empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(storage->requeue_abandoned_trials(study, me, 0.01), std::vector<int>{0});
}

TYPED_TEST(StorageTest, RequeuesAnEarlierRunOfThisProcessButNotTheCurrentOne) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  const TrialOwner earlier = current_owner();
  const TrialOwner now = current_owner();
  ASSERT_NE(earlier.token, now.token);
  storage->claim_trial(study, earlier, 0, sampler_counting_history(nullptr));
  storage->claim_trial(study, now, 0, sampler_counting_history(nullptr));
  EXPECT_EQ(storage->requeue_abandoned_trials(study, now, 3600.0), std::vector<int>{0});
}

TYPED_TEST(StorageTest, ThreadsClaimEveryNumberOnce) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  constexpr int kRunCap = 60;
  std::mutex numbers_mutex;
  std::multiset<int> numbers;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      const TrialOwner owner = current_owner();
      while (auto claimed = storage->claim_trial(study, owner, kRunCap, sampler_counting_history(nullptr))) {
        storage->record_intermediate(study, claimed->trial.number, 1, 1.0);
        storage->finish_trial(study, claimed->trial.number, RunState::complete, 1.0, "");
        std::lock_guard lock(numbers_mutex);
        numbers.insert(claimed->trial.number);
      }
    });
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(numbers.size(), std::size_t(kRunCap));
  for (int number = 0; number < kRunCap; ++number) EXPECT_EQ(numbers.count(number), 1u) << number;
}

TYPED_TEST(StorageTest, ProcessesSharingOneFileClaimEveryNumberOnce) {
  const auto folder = this->folder_.file("");
  const int study = [&] {
    auto storage = this->open();
    return this->make_study(*storage).id;
  }();
  constexpr int kRunCap = 90;
  std::vector<pid_t> children;
  for (int child = 0; child < 3; ++child)
    children.push_back(testing::fork_child([&] {
      auto storage = TypeParam::open(folder);  // each process its own connection
      const TrialOwner owner = current_owner();
      while (auto claimed = storage->claim_trial(study, owner, kRunCap, sampler_counting_history(nullptr))) {
        storage->record_intermediate(study, claimed->trial.number, 1, 2.0);
        storage->finish_trial(study, claimed->trial.number, RunState::complete, 2.0, "");
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // lets the others in
      }
    }));
  for (pid_t child : children) EXPECT_EQ(testing::wait_exit_code(child), 0) << "a child failed; see its message";

  auto storage = this->open();
  const auto records = storage->trial_records(study);
  ASSERT_EQ(records.size(), std::size_t(kRunCap));
  std::set<int> owners;
  for (int number = 0; number < kRunCap; ++number) {
    EXPECT_EQ(records[number].trial.number, number);
    EXPECT_EQ(records[number].trial.state, RunState::complete);
    EXPECT_EQ(records[number].trial.intermediate.size(), 1u);
    owners.insert(records[number].owner.pid);
  }
  EXPECT_GE(owners.size(), 2u) << "the processes should have shared the work";
}

}  // namespace
}  // namespace mlptune::tune
