// The shared Storage suite (every storage implementation runs it): studies, claiming numbers,
// params round trips, pausing, finishing, requeueing abandoned trials, fencing of lost claims,
// checkpoints and best weights as bytes, copies of a study, threads and processes.
#include "mlptune/tune/storage.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

#include "tune/postgres_test_support.hpp"
#include "tune/study_test_support.hpp"

namespace mlptune::tune {
namespace {

using testing::TempFolder;

struct SqliteFactory {
  static constexpr const char* kName = "Sqlite";
  static std::unique_ptr<Storage> open(const std::filesystem::path& folder) {
    return open_sqlite_storage(folder / "study.db");
  }
};

// A fresh database on the tests' PostgreSQL server per test, the same for every open of the test
// (a forked child's too): the test's folder names it.
struct PostgresFactory {
  static constexpr const char* kName = "Postgres";
  static std::optional<std::string> skip_reason() {
    if (testing::postgres_server_url()) return std::nullopt;
    return testing::kNoPostgresServer;
  }
  static std::unique_ptr<Storage> open(const std::filesystem::path& folder) {
    return open_postgres_storage(testing::database_of_test(folder));
  }
};

template <typename Factory>
class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {  // a storage that needs a server skips without one
    if constexpr (requires { Factory::skip_reason(); })
      if (const auto reason = Factory::skip_reason()) GTEST_SKIP() << *reason;
  }
  std::unique_ptr<Storage> open() { return Factory::open(folder_.file("")); }
  StudyInfo make_study(Storage& storage, const std::string& name = "study") {
    return storage.open_or_create_study({0, name, Goal::minimize, "method: random\n", 42, 0.0});
  }
  TempFolder folder_;
};

using StorageTypes = ::testing::Types<SqliteFactory, PostgresFactory>;
struct StorageNames {  // StorageTest/Sqlite.*, StorageTest/Postgres.*
  template <typename Factory>
  static std::string GetName(int) {
    return Factory::kName;
  }
};
TYPED_TEST_SUITE(StorageTest, StorageTypes, StorageNames);

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
  const TrialClaim claim = storage->claim_trial(study, owner, 0, sampler_counting_history(nullptr))->claim(study);
  EXPECT_TRUE(storage->record_intermediate(claim, 1, 0.9));
  EXPECT_TRUE(storage->record_intermediate(claim, 2, 0.7));
  EXPECT_TRUE(storage->record_intermediate(claim, 2, 0.6));  // a re-run epoch replaces the value
  EXPECT_TRUE(storage->pause_trial(claim, 2, "state at epoch 2"));

  auto paused = storage->trial_record(study, 0);
  EXPECT_EQ(paused->trial.state, RunState::waiting);
  EXPECT_TRUE(is_paused(paused->trial));
  EXPECT_EQ(paused->trial.paused_epoch, 2);
  EXPECT_EQ(paused->checkpoint_epoch, 2);
  EXPECT_EQ(storage->load_checkpoint(study, 0), "state at epoch 2");
  EXPECT_EQ(paused->trial.intermediate, (std::map<int, double>{{1, 0.9}, {2, 0.6}}));
  EXPECT_FALSE(storage->record_intermediate(claim, 3, 0.5)) << "a paused trial takes no values";
  // A paused trial is not handed out as new work; the next claim makes trial 1.
  const TrialClaim second = storage->claim_trial(study, owner, 0, sampler_counting_history(nullptr))->claim(study);
  EXPECT_EQ(second.number, 1);

  const auto resumed = storage->claim_paused_trial(study, 0, owner);
  ASSERT_TRUE(resumed.has_value());
  EXPECT_GT(resumed->claim_token, claim.token) << "each claim gets a new token";
  EXPECT_FALSE(storage->claim_paused_trial(study, 0, owner).has_value());  // taken already
  EXPECT_FALSE(storage->finish_trial(claim, RunState::complete, 0.5, "")) << "the claim before the pause is spent";
  EXPECT_TRUE(storage->finish_trial(resumed->claim(study), RunState::complete, 0.5, ""));
  const auto finished = storage->trial_record(study, 0);
  EXPECT_EQ(finished->trial.state, RunState::complete);
  EXPECT_EQ(finished->trial.value, 0.5);
  EXPECT_GE(finished->trial.finished_at, finished->trial.started_at);
  EXPECT_EQ(finished->trial.paused_epoch, 0);
  EXPECT_EQ(finished->checkpoint_epoch, 0);
  EXPECT_FALSE(storage->load_checkpoint(study, 0).has_value()) << "a finished trial's checkpoint is dropped";

  EXPECT_TRUE(storage->finish_trial(second, RunState::failed, std::nullopt, "diverged at epoch 3, step 30"));
  const auto failed = storage->trial_record(study, 1);
  EXPECT_EQ(failed->trial.state, RunState::failed);
  EXPECT_FALSE(failed->trial.value.has_value());
  EXPECT_EQ(failed->trial.message, "diverged at epoch 3, step 30");
  EXPECT_FALSE(storage->finish_trial(second, RunState::complete, 1.0, "")) << "a trial finishes once";
  EXPECT_THROW(storage->finish_trial({study, 7, 1}, RunState::complete, 1.0, ""), StorageError);
  EXPECT_THROW(storage->finish_trial(second, RunState::running, 1.0, ""), StorageError);
}

TYPED_TEST(StorageTest, APausedTrialIsPrunedAtItsRungWithItsLastValue) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  const TrialClaim claim =
      storage->claim_trial(study, current_owner(), 0, sampler_counting_history(nullptr))->claim(study);
  storage->record_intermediate(claim, 1, 0.8);
  storage->record_intermediate(claim, 3, 0.4);
  EXPECT_FALSE(storage->prune_paused_trial(study, 0, "not among the best")) << "it is running, not paused";
  storage->pause_trial(claim, 3, "state");
  EXPECT_TRUE(storage->prune_paused_trial(study, 0, "pruned at epoch 3: not among the best"));
  const auto pruned = storage->trial_record(study, 0);
  EXPECT_EQ(pruned->trial.state, RunState::pruned);
  EXPECT_EQ(pruned->trial.value, 0.4);
  EXPECT_EQ(pruned->trial.message, "pruned at epoch 3: not among the best");
  EXPECT_FALSE(storage->load_checkpoint(study, 0).has_value());
  EXPECT_FALSE(storage->prune_paused_trial(study, 0, "again"));
}

TYPED_TEST(StorageTest, RequeuesTrialsOfDeadProcessesWithTheSameNumberAndParams) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  TrialOwner dead = current_owner();
  dead.pid = testing::dead_pid();
  const TrialOwner me = current_owner();
  const auto lost = storage->claim_trial(study, dead, 0, sampler_counting_history(nullptr));  // 0: its owner died
  storage->claim_trial(study, me, 0, sampler_counting_history(nullptr));                      // 1: still ours
  const auto done = storage->claim_trial(study, dead, 0, sampler_counting_history(nullptr));  // 2: finished
  storage->finish_trial(done->claim(study), RunState::complete, 1.5, "");
  storage->record_intermediate(lost->claim(study), 1, 3.0);

  EXPECT_EQ(storage->requeue_abandoned_trials(study, me, 3600.0, 3).requeued, std::vector<int>{0});
  const auto requeued = storage->trial_record(study, 0);
  EXPECT_EQ(requeued->trial.state, RunState::waiting);
  EXPECT_FALSE(is_paused(requeued->trial));
  EXPECT_TRUE(requeued->trial.intermediate.empty());
  EXPECT_EQ(requeued->retries, 1);

  auto again = storage->claim_trial(study, me, 3, sampler_counting_history(nullptr));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->trial.number, 0);
  EXPECT_EQ(again->trial.params, sample_with_lr(0.001).params);
  EXPECT_EQ(again->owner.token, me.token);
  EXPECT_FALSE(storage->claim_trial(study, me, 3, sampler_counting_history(nullptr)).has_value());
}

// A worker cut off from the database past the grace period loses its trial to another; when it
// comes back, every write it still makes under its old claim is refused and changes nothing.
TYPED_TEST(StorageTest, AWorkerThatLostItsTrialFindsEveryLateWriteRefused) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  const TrialOwner cut_off{"host-a", 100, "run-a"};
  const TrialClaim old_claim = storage->claim_trial(study, cut_off, 0, sampler_counting_history(nullptr))->claim(study);
  ASSERT_TRUE(storage->record_intermediate(old_claim, 1, 0.9));
  ASSERT_TRUE(storage->checkpoint_trial(old_claim, 1, "host-a's state after epoch 1"));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  const TrialOwner other{"host-b", 200, "run-b"};
  EXPECT_EQ(storage->requeue_abandoned_trials(study, other, 0.01, 3).requeued, std::vector<int>{0});
  const auto taken = storage->claim_trial(study, other, 1, sampler_counting_history(nullptr));
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->trial.number, 0);
  EXPECT_EQ(taken->checkpoint_epoch, 1) << "it continues from host-a's checkpoint";
  const TrialClaim new_claim = taken->claim(study);
  EXPECT_NE(new_claim.token, old_claim.token);

  storage->heartbeat(cut_off);  // back again: its heartbeat touches no trial it no longer holds
  EXPECT_FALSE(storage->record_intermediate(old_claim, 2, 0.1));
  EXPECT_FALSE(storage->checkpoint_trial(old_claim, 2, "stale state"));
  EXPECT_FALSE(storage->pause_trial(old_claim, 2, "stale state"));
  EXPECT_FALSE(storage->suspend_trial(old_claim, 2, "stale state"));
  EXPECT_FALSE(storage->finish_trial(old_claim, RunState::complete, 0.1, ""));
  const auto record = storage->trial_record(study, 0);
  EXPECT_EQ(record->trial.state, RunState::running);
  EXPECT_EQ(record->owner.host, "host-b");
  EXPECT_EQ(record->trial.intermediate, (std::map<int, double>{{1, 0.9}}));
  EXPECT_EQ(storage->load_checkpoint(study, 0), "host-a's state after epoch 1");

  EXPECT_TRUE(storage->record_intermediate(new_claim, 2, 0.5));
  EXPECT_TRUE(storage->finish_trial(new_claim, RunState::complete, 0.5, ""));
  EXPECT_EQ(storage->trial_record(study, 0)->trial.value, 0.5);
}

TYPED_TEST(StorageTest, ATrialAbandonedMoreOftenThanAllowedStaysFailedWithTheReason) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  const TrialOwner me = current_owner();
  for (int run = 0; run < 3; ++run) {
    TrialOwner dead = current_owner();
    dead.pid = testing::dead_pid();
    const auto claimed = storage->claim_trial(study, dead, 1, sampler_counting_history(nullptr));
    ASSERT_TRUE(claimed.has_value()) << "run " << run;
    EXPECT_EQ(claimed->trial.number, 0);
    const AbandonedTrials abandoned = storage->requeue_abandoned_trials(study, me, 3600.0, 2);
    if (run < 2) {
      EXPECT_EQ(abandoned.requeued, std::vector<int>{0}) << "run " << run;
      EXPECT_TRUE(abandoned.failed.empty());
    } else {
      EXPECT_TRUE(abandoned.requeued.empty());
      EXPECT_EQ(abandoned.failed, std::vector<int>{0});
    }
  }
  const auto failed = storage->trial_record(study, 0);
  EXPECT_EQ(failed->trial.state, RunState::failed);
  EXPECT_EQ(failed->retries, 2);
  EXPECT_NE(failed->trial.message.find("abandoned by its worker 3 times without progress"), std::string::npos)
      << failed->trial.message;
  EXPECT_NE(failed->trial.message.find("--max-retries 2"), std::string::npos) << failed->trial.message;
  EXPECT_FALSE(storage->claim_trial(study, me, 1, sampler_counting_history(nullptr)).has_value());
}

// A trial that gets further between kills (a checkpoint after a later epoch) is not failing its
// workers: its count starts again, and it is requeued however often it is abandoned.
TYPED_TEST(StorageTest, ATrialThatMakesProgressBetweenAbandonmentsIsAlwaysRequeued) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  const TrialOwner me = current_owner();
  for (int run = 0; run < 4; ++run) {
    TrialOwner dead = current_owner();
    dead.pid = testing::dead_pid();
    const auto claimed = storage->claim_trial(study, dead, 1, sampler_counting_history(nullptr));
    ASSERT_TRUE(claimed.has_value()) << "run " << run;
    EXPECT_EQ(claimed->checkpoint_epoch, run);
    ASSERT_TRUE(storage->checkpoint_trial(claimed->claim(study), run + 1, "state"));
    EXPECT_EQ(storage->trial_record(study, 0)->retries, 0) << "run " << run;
    EXPECT_EQ(storage->requeue_abandoned_trials(study, me, 3600.0, 1).requeued, std::vector<int>{0}) << "run " << run;
  }
  EXPECT_EQ(storage->trial_record(study, 0)->retries, 1);
}

TYPED_TEST(StorageTest, ARunningTrialsCheckpointIsRecordedOnlyUnderItsClaim) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  const TrialOwner owner = current_owner();
  const TrialClaim claim = storage->claim_trial(study, owner, 0, sampler_counting_history(nullptr))->claim(study);
  EXPECT_FALSE(storage->checkpoint_trial({study, 0, claim.token + 1}, 1, "x")) << "another claim's write is refused";
  const std::string state(3 << 20, '\x01');  // a few MiB, with bytes text would mangle
  std::string binary = state;
  binary[7] = '\0';
  binary[8] = '\xff';
  EXPECT_TRUE(storage->checkpoint_trial(claim, 3, binary));
  const auto record = storage->trial_record(study, 0);
  EXPECT_EQ(record->checkpoint_epoch, 3);
  EXPECT_EQ(storage->load_checkpoint(study, 0), binary);
  EXPECT_EQ(record->trial.state, RunState::running);
  EXPECT_FALSE(is_paused(record->trial));
  storage->finish_trial(claim, RunState::complete, 1.0, "");
  EXPECT_FALSE(storage->checkpoint_trial(claim, 4, "y")) << "a finished trial takes no checkpoint";
}

TYPED_TEST(StorageTest, AnAbandonedTrialWithACheckpointContinuesFromItsEpoch) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  TrialOwner dead = current_owner();
  dead.pid = testing::dead_pid();
  const auto claimed = storage->claim_trial(study, dead, 0, sampler_counting_history(nullptr));
  const TrialClaim claim = claimed->claim(study);
  for (int epoch = 1; epoch <= 4; ++epoch) storage->record_intermediate(claim, epoch, 1.0 / epoch);
  ASSERT_TRUE(storage->checkpoint_trial(claim, 2, "state after epoch 2"));

  const TrialOwner me = current_owner();
  EXPECT_EQ(storage->requeue_abandoned_trials(study, me, 3600.0, 3).requeued, std::vector<int>{0});
  const auto requeued = storage->trial_record(study, 0);
  EXPECT_EQ(requeued->trial.state, RunState::waiting);
  EXPECT_FALSE(is_paused(requeued->trial)) << "waiting to continue, not paused at a rung";
  EXPECT_EQ(requeued->trial.intermediate, (std::map<int, double>{{1, 1.0}, {2, 0.5}})) << "epochs 3, 4 report again";
  EXPECT_EQ(requeued->checkpoint_epoch, 2);

  const auto again = storage->claim_trial(study, me, 1, sampler_counting_history(nullptr));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->trial.number, 0);
  EXPECT_EQ(again->checkpoint_epoch, 2);
  EXPECT_EQ(storage->load_checkpoint(study, 0), "state after epoch 2");
  EXPECT_EQ(again->trial.started_at, claimed->trial.started_at) << "it continues, so it started when it first did";

  storage->finish_trial(again->claim(study), RunState::complete, 0.25, "");
  EXPECT_FALSE(storage->load_checkpoint(study, 0).has_value()) << "a finished trial's checkpoint is dropped";
  EXPECT_EQ(storage->trial_record(study, 0)->checkpoint_epoch, 0);
}

// A run that stops gracefully leaves its trials waiting at their last epoch, for the next run.
TYPED_TEST(StorageTest, ASuspendedTrialWaitsWithItsValuesAndContinuesFromItsEpoch) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  const TrialOwner owner = current_owner();
  const TrialClaim claim = storage->claim_trial(study, owner, 0, sampler_counting_history(nullptr))->claim(study);
  for (int epoch = 1; epoch <= 3; ++epoch) storage->record_intermediate(claim, epoch, 1.0 / epoch);
  EXPECT_FALSE(storage->suspend_trial({study, 0, claim.token + 1}, 3, "x")) << "another claim's write is refused";
  EXPECT_EQ(storage->trial_record(study, 0)->trial.state, RunState::running);
  ASSERT_TRUE(storage->suspend_trial(claim, 3, "state after epoch 3"));

  const auto suspended = storage->trial_record(study, 0);
  EXPECT_EQ(suspended->trial.state, RunState::waiting);
  EXPECT_FALSE(is_paused(suspended->trial)) << "waiting to continue, not paused at a rung";
  EXPECT_EQ(suspended->trial.intermediate.size(), 3u) << "every epoch it trained is kept";
  EXPECT_EQ(suspended->checkpoint_epoch, 3);
  EXPECT_FALSE(storage->suspend_trial(claim, 3, "x")) << "only a running trial is suspended";

  const TrialOwner next_run = current_owner();
  EXPECT_TRUE(storage->requeue_abandoned_trials(study, next_run, 3600.0, 3).requeued.empty()) << "not abandoned";
  const auto again = storage->claim_trial(study, next_run, 1, sampler_counting_history(nullptr));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->trial.number, 0);
  EXPECT_EQ(again->trial.state, RunState::running);
  EXPECT_EQ(again->checkpoint_epoch, 3);
  EXPECT_EQ(again->retries, 0) << "a stop is no retry";
  EXPECT_EQ(storage->load_checkpoint(study, 0), "state after epoch 3");
  EXPECT_EQ(again->trial.intermediate.size(), 3u);
}

TYPED_TEST(StorageTest, AnAbandonedTrialWithoutACheckpointStartsOver) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  TrialOwner dead = current_owner();
  dead.pid = testing::dead_pid();
  const TrialClaim claim = storage->claim_trial(study, dead, 0, sampler_counting_history(nullptr))->claim(study);
  storage->record_intermediate(claim, 1, 1.0);
  storage->requeue_abandoned_trials(study, current_owner(), 3600.0, 3);
  const auto requeued = storage->trial_record(study, 0);
  EXPECT_TRUE(requeued->trial.intermediate.empty());
  EXPECT_EQ(requeued->checkpoint_epoch, 0);
  EXPECT_FALSE(storage->load_checkpoint(study, 0).has_value());
}

TYPED_TEST(StorageTest, KeepsTheWeightsOfTheBestCompleteTrialOnly) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;  // minimize
  const TrialOwner owner = current_owner();
  std::vector<TrialClaim> claims;
  for (int i = 0; i < 3; ++i)
    claims.push_back(storage->claim_trial(study, owner, 0, sampler_counting_history(nullptr))->claim(study));
  EXPECT_FALSE(storage->best_weights(study).has_value());
  EXPECT_FALSE(storage->save_best_weights(study, 0, "model 0")) << "a running trial is not the best";
  storage->finish_trial(claims[0], RunState::complete, 0.5, "");
  EXPECT_TRUE(storage->save_best_weights(study, 0, "model 0"));
  storage->finish_trial(claims[1], RunState::complete, 0.7, "");
  EXPECT_FALSE(storage->save_best_weights(study, 1, "model 1")) << "0.7 is worse than 0.5";
  storage->finish_trial(claims[2], RunState::complete, 0.2, "");
  EXPECT_TRUE(storage->save_best_weights(study, 2, "model 2"));
  const auto best = storage->best_weights(study);
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->number, 2);
  EXPECT_EQ(best->model, "model 2");
  EXPECT_FALSE(storage->save_best_weights(study, 0, "model 0")) << "the kept weights stay";
  EXPECT_EQ(storage->best_weights(study)->number, 2);
}

TYPED_TEST(StorageTest, AStudyCopiedToAnotherStorageKeepsEverything) {
  auto storage = this->open();
  const StudyInfo study = this->make_study(*storage, "source");
  storage->change_study_config(study.id, "method: bayes\n");
  const TrialOwner owner = current_owner();
  const TrialClaim done = storage->claim_trial(study.id, owner, 0, sampler_counting_history(nullptr))->claim(study.id);
  storage->record_intermediate(done, 1, 0.3);
  storage->finish_trial(done, RunState::complete, 0.3, "");
  storage->save_best_weights(study.id, 0, "best model");
  const TrialClaim paused =
      storage->claim_trial(study.id, owner, 0, sampler_counting_history(nullptr))->claim(study.id);
  storage->record_intermediate(paused, 2, 0.6);
  storage->pause_trial(paused, 2, std::string("paused\0state", 12));

  StudyDump dump = storage->dump_study("source");
  EXPECT_THROW(storage->import_study(dump), StorageError) << "a study of that name exists";
  EXPECT_THROW(storage->dump_study("missing"), StorageError);
  dump.study.name = "copy";
  storage->import_study(dump);
  const auto copy = storage->find_study("copy");
  ASSERT_TRUE(copy.has_value());
  EXPECT_NE(copy->id, study.id);
  EXPECT_EQ(copy->config_yaml, "method: bayes\n");
  EXPECT_EQ(copy->seed, study.seed);
  EXPECT_EQ(storage->config_history(copy->id), std::vector<std::string>{"method: random\n"});
  const auto original = storage->trial_records(study.id), copied = storage->trial_records(copy->id);
  ASSERT_EQ(copied.size(), 2u);
  for (std::size_t i = 0; i < copied.size(); ++i) {
    EXPECT_EQ(copied[i].trial.number, original[i].trial.number);
    EXPECT_EQ(copied[i].trial.state, original[i].trial.state);
    EXPECT_EQ(copied[i].trial.params, original[i].trial.params);
    EXPECT_EQ(copied[i].trial.value, original[i].trial.value);
    EXPECT_EQ(copied[i].trial.intermediate, original[i].trial.intermediate);
    EXPECT_EQ(copied[i].trial.seed, original[i].trial.seed);
    EXPECT_EQ(copied[i].trial.paused_epoch, original[i].trial.paused_epoch);
    EXPECT_EQ(copied[i].attributes, original[i].attributes);
    EXPECT_EQ(copied[i].checkpoint_epoch, original[i].checkpoint_epoch);
  }
  EXPECT_EQ(storage->load_checkpoint(copy->id, 1), std::string("paused\0state", 12));
  EXPECT_EQ(storage->best_weights(copy->id)->model, "best model");
  EXPECT_TRUE(storage->claim_paused_trial(copy->id, 1, owner).has_value()) << "the copy continues where it was";
}

TYPED_TEST(StorageTest, AChangedConfigurationIsRecordedWithThePreviousOne) {
  auto storage = this->open();
  const StudyInfo study = this->make_study(*storage);
  storage->change_study_config(study.id, "method: bayes\n");
  EXPECT_EQ(storage->find_study(study.name)->config_yaml, "method: bayes\n");
  EXPECT_EQ(storage->config_history(study.id), std::vector<std::string>{"method: random\n"});
}

// A storage URL written in the YAML keeps its password out of every stored configuration, copies
// included (a copy of a study stored before is cleaned on the way).
TYPED_TEST(StorageTest, NoConfigurationIsStoredWithAPassword) {
  auto storage = this->open();
  const std::string with_password = "storage: postgresql://ada:s3cret@db.example:5432/lab?sslmode=require\nname: x\n";
  const StudyInfo study = storage->open_or_create_study({0, "study", Goal::minimize, with_password, 42, 0.0});
  EXPECT_EQ(storage->find_study("study")->config_yaml,
            "storage: postgresql://ada:***@db.example:5432/lab?sslmode=require\nname: x\n");
  storage->change_study_config(study.id, "storage: 'postgres://ada@db/lab?password=0ther&x=1'\n");
  EXPECT_EQ(storage->find_study("study")->config_yaml, "storage: 'postgres://ada@db/lab?password=***&x=1'\n");

  StudyDump dump = storage->dump_study("study");
  dump.study.name = "copy";
  dump.study.config_yaml = with_password;
  dump.previous_configs = {with_password};
  storage->import_study(dump);
  const StudyInfo copy = *storage->find_study("copy");
  for (const std::string& stored :
       {copy.config_yaml, storage->config_history(copy.id).at(0), storage->config_history(study.id).at(0)})
    EXPECT_EQ(stored.find("s3cret"), std::string::npos) << stored;
}

TYPED_TEST(StorageTest, RequeuesOtherHostsOnlyAfterTheirHeartbeatGoesStale) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  TrialOwner remote{"another-host", 1, "remote"};
  storage->claim_trial(study, remote, 0, sampler_counting_history(nullptr));
  const TrialOwner me = current_owner();
  EXPECT_TRUE(storage->requeue_abandoned_trials(study, me, 3600.0, 3).requeued.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(storage->requeue_abandoned_trials(study, me, 0.01, 3).requeued, std::vector<int>{0});
}

TYPED_TEST(StorageTest, RequeuesAnEarlierRunOfThisProcessButNotTheCurrentOne) {
  auto storage = this->open();
  const int study = this->make_study(*storage).id;
  const TrialOwner earlier = current_owner();
  const TrialOwner now = current_owner();
  ASSERT_NE(earlier.token, now.token);
  storage->claim_trial(study, earlier, 0, sampler_counting_history(nullptr));
  storage->claim_trial(study, now, 0, sampler_counting_history(nullptr));
  EXPECT_EQ(storage->requeue_abandoned_trials(study, now, 3600.0, 3).requeued, std::vector<int>{0});
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
        storage->record_intermediate(claimed->claim(study), 1, 1.0);
        storage->finish_trial(claimed->claim(study), RunState::complete, 1.0, "");
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
      bool shared = false;
      while (auto claimed = storage->claim_trial(study, owner, kRunCap, sampler_counting_history(nullptr))) {
        storage->record_intermediate(claimed->claim(study), 1, 2.0);
        storage->finish_trial(claimed->claim(study), RunState::complete, 2.0, "");
        // After its first trial, each waits until another process has claimed one too, so that the
        // work is shared however the processes are scheduled (the limit only ends a failing test).
        for (int wait = 0; !shared && wait < 6000; ++wait) {
          for (const TrialRecord& record : storage->trial_records(study)) shared |= record.owner.pid != owner.pid;
          if (!shared) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        shared = true;
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
