// The study driver on a fake backend: run caps, failures, resuming, pruning, promotions that
// continue from saved state, metric targets, progress, and the best trial's weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "mlptune/error.hpp"
#include "mlptune/safetensors.hpp"
#include "tune/study_test_support.hpp"

namespace mlptune::tune {
namespace {

using testing::fake_parts;
using testing::fake_study_config;

using StudyTest = testing::StudyFixture;

TEST_F(StudyTest, RunsExactlyRunCapTrialsWithTheirOwnSeedsAndCommands) {
  const StudyConfig config = fake_study_config(12, 4);
  const StudyResult result = run_study(config, options(), fake_parts(4));
  const auto stored = records();
  ASSERT_EQ(stored.size(), 12u);
  for (int number = 0; number < 12; ++number) {
    const auto& record = stored[std::size_t(number)];
    EXPECT_EQ(record.trial.number, number);
    EXPECT_EQ(record.trial.state, RunState::complete);
    EXPECT_EQ(record.trial.seed, trial_seed(1234, number));
    EXPECT_EQ(record.trial.intermediate.size(), 4u);
    TrialSpec spec = params_to_spec(record.trial.params, default_trial_spec(*testing::tiny_data()));
    EXPECT_DOUBLE_EQ(*record.trial.value, testing::fake_validation_loss(spec, 4));
    EXPECT_NE(record.attributes.at("command").find("--seed " + std::to_string(record.trial.seed)), std::string::npos);
  }
  EXPECT_EQ(result.progress.complete, 12);
  ASSERT_TRUE(result.best.has_value());
  for (const auto& record : stored) EXPECT_LE(*result.best->value, *record.trial.value);
  EXPECT_EQ(result.best_command, stored[std::size_t(result.best->number)].attributes.at("command"));
  ASSERT_TRUE(std::filesystem::exists(result.best_weights));
  const TrialState best_state = load_trial_state(result.best_weights);
  EXPECT_EQ(best_state.epoch, 4);
}

TEST_F(StudyTest, DivergedTrialsFailWithTheirReasonAndTheStudyGoesOn) {
  const StudyResult result = run_study(fake_study_config(15, 3), options(), fake_parts(3, 1, 3, /*max_lr=*/1.0));
  int failed = 0;
  for (const auto& record : records()) {
    const double lr = std::get<double>(record.trial.params.at("lr"));
    if (lr > 0.5) {
      ++failed;
      EXPECT_EQ(record.trial.state, RunState::failed);
      EXPECT_NE(record.trial.message.find("diverged at epoch 1"), std::string::npos) << record.trial.message;
    } else {
      EXPECT_EQ(record.trial.state, RunState::complete);
    }
  }
  EXPECT_GT(failed, 0) << "the fake sampler should have drawn a learning rate above 0.5";
  EXPECT_EQ(result.progress.failed, failed);
  EXPECT_EQ(result.progress.done(), 15);
}

TEST_F(StudyTest, ARerunKeepsFinishedTrialsAndAddsUpToTheNewRunCap) {
  run_study(fake_study_config(5, 2), options(), fake_parts(2));
  const auto first = records();
  run_study(fake_study_config(9, 2), options(), fake_parts(2));
  const auto second = records();
  ASSERT_EQ(second.size(), 9u);
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(second[i].trial.finished_at, first[i].trial.finished_at);
    EXPECT_EQ(second[i].trial.value, first[i].trial.value);
  }
  std::shared_ptr<std::atomic<int>> epochs_trained;
  run_study(fake_study_config(9, 2), options(), fake_parts(2, 2, 3, 0.1, &epochs_trained));
  EXPECT_EQ(records().size(), 9u);
  EXPECT_EQ(epochs_trained->load(), 0) << "a finished study trains nothing more";
}

TEST_F(StudyTest, MedianPruningStopsPoorTrials) {
  StudyConfig config = fake_study_config(20, 6);
  config.early_terminate.type = PrunerKind::median;
  config.early_terminate.startup_trials = 3;
  const StudyResult result = run_study(config, options(), fake_parts(6, 1, 1));
  EXPECT_GT(result.progress.pruned, 0);
  EXPECT_EQ(result.progress.done(), 20);
  for (const auto& record : records())
    if (record.trial.state == RunState::pruned) {
      EXPECT_LT(record.trial.intermediate.size(), 6u);
      EXPECT_EQ(record.trial.value, record.trial.intermediate.rbegin()->second);
    }
}

// Promoted trials continue from their saved state: no epoch is trained twice.
void expect_rung_schedule_without_retraining(const StudyConfig& config, const std::vector<TrialRecord>& stored,
                                             int epochs_trained) {
  int epochs_recorded = 0;
  int completed_full = 0;
  for (const auto& record : stored) {
    EXPECT_TRUE(is_finished(record.trial.state)) << record.trial.number;
    epochs_recorded += int(record.trial.intermediate.size());
    completed_full += record.trial.state == RunState::complete;
    int expected_epoch = 1;
    for (const auto& [epoch, value] : record.trial.intermediate) EXPECT_EQ(epoch, expected_epoch++);
  }
  EXPECT_EQ(epochs_trained, epochs_recorded);
  EXPECT_GE(completed_full, 1);
  EXPECT_LT(epochs_recorded, config.run_cap * 9) << "the scheduler should have stopped some trials early";
}

TEST_F(StudyTest, AshaPromotionsResumeFromTheCheckpoint) {
  StudyConfig config = fake_study_config(18, 9);
  config.early_terminate = {PrunerKind::asha, 1, 9, 0, 3.0};
  std::shared_ptr<std::atomic<int>> epochs_trained;
  const StudyResult result = run_study(config, options(), fake_parts(9, 1, 3, 0.1, &epochs_trained));
  const auto stored = records();
  ASSERT_EQ(stored.size(), 18u);
  expect_rung_schedule_without_retraining(config, stored, epochs_trained->load());
  int reached_three = 0;
  for (const auto& record : stored) reached_three += record.trial.intermediate.count(3) > 0;
  EXPECT_GE(reached_three, 18 / 3);
  EXPECT_EQ(result.progress.paused, 0);
}

TEST_F(StudyTest, ABudgetTooSmallForPromotionsStillEndsWithACompleteTrial) {
  // Six trials, eta 3: rung 3 gets at most two, and floor(2 / 3) = 0 promotions from there.
  StudyConfig config = fake_study_config(6, 9);
  config.early_terminate = {PrunerKind::asha, 1, 9, 0, 3.0};
  const StudyResult result = run_study(config, options(), fake_parts(6, 1, 1));
  ASSERT_TRUE(result.best.has_value());
  EXPECT_EQ(result.best->intermediate.rbegin()->first, 9) << "the best trial trains to its full epochs";
  EXPECT_EQ(result.progress.done(), 6);
  EXPECT_EQ(result.progress.paused, 0);
}

TEST_F(StudyTest, WarnsWhenRunCapIsBelowHyperbandsFirstBracket) {
  StudyConfig config = fake_study_config(4, 9);
  config.early_terminate = {PrunerKind::hyperband, 1, 9, 0, 3.0};  // first bracket: 9 trials
  std::vector<std::string> events;
  run_study(config, options(), fake_parts(4, 1, 1), [&](const StudyProgress& p) { events.push_back(p.event); });
  const auto warning = std::find_if(events.begin(), events.end(), [](auto& e) { return e.starts_with("warning:"); });
  ASSERT_NE(warning, events.end());
  EXPECT_NE(warning->find("run_cap 4 is below the 9 trials"), std::string::npos) << *warning;
}

TEST_F(StudyTest, SaysThatAWandbProgramIsNotRun) {
  StudyConfig config = fake_study_config(2, 1);
  config.program = "train.py";
  std::vector<std::string> events;
  run_study(config, options(), fake_parts(1, 1, 1), [&](const StudyProgress& p) { events.push_back(p.event); });
  const auto warning = std::find_if(events.begin(), events.end(), [](auto& e) { return e.starts_with("warning:"); });
  ASSERT_NE(warning, events.end());
  EXPECT_NE(warning->find("program train.py is not run"), std::string::npos) << *warning;
  EXPECT_NE(warning->find("digits"), std::string::npos) << "names the data it trains on instead: " << *warning;
}

TEST_F(StudyTest, HyperbandRunsItsBracketsAndResumesPromotedTrials) {
  StudyConfig config = fake_study_config(13, 9);  // R = 9, eta 3: brackets of 9, 3 (capped) trials
  config.early_terminate = {PrunerKind::hyperband, 1, 9, 0, 3.0};
  std::shared_ptr<std::atomic<int>> epochs_trained;
  run_study(config, options(), fake_parts(9, 1, 3, 0.1, &epochs_trained));
  const auto stored = records();
  ASSERT_EQ(stored.size(), 13u);
  expect_rung_schedule_without_retraining(config, stored, epochs_trained->load());
  int first_bracket_at_three = 0, first_bracket_at_nine = 0;
  for (int number = 0; number < 9; ++number) {
    first_bracket_at_three += stored[std::size_t(number)].trial.intermediate.count(3) > 0;
    first_bracket_at_nine += stored[std::size_t(number)].trial.intermediate.count(9) > 0;
  }
  EXPECT_EQ(first_bracket_at_three, 3);
  EXPECT_EQ(first_bracket_at_nine, 1);
}

TEST_F(StudyTest, StopsStartingTrialsOnceTheTargetIsReached) {
  StudyConfig config = fake_study_config(40, 2);
  config.metric.target = 100.0;  // every fake trial beats it
  const StudyResult result = run_study(config, options(), fake_parts(2, 1, 1));
  EXPECT_TRUE(result.target_reached);
  EXPECT_EQ(records().size(), 1u);
}

TEST_F(StudyTest, ReportsProgressUpToTheRunCap) {
  std::vector<StudyProgress> seen;
  run_study(fake_study_config(6, 2), options(), fake_parts(2), [&](const StudyProgress& p) { seen.push_back(p); });
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().done(), 6);
  EXPECT_EQ(seen.back().run_cap, 6);
  EXPECT_TRUE(seen.back().best_value.has_value());
  EXPECT_TRUE(seen.back().eta_seconds.has_value());
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i].done(), seen[i - 1].done());
}

// Every study that trains a trial ends with one complete to its full epochs, and its weights,
// whatever the run cap against the scheduler's first bracket (9 trials for R = 9, eta = 3).
TEST_F(StudyTest, EverySchedulerAndRunCapEndsWithACompleteTrialAndItsWeights) {
  for (const PrunerKind pruner : {PrunerKind::asha, PrunerKind::hyperband}) {
    for (const int run_cap : {2, 4, 8, 9, 13}) {
      SCOPED_TRACE(std::string(to_string(pruner)) + ", run_cap " + std::to_string(run_cap));
      std::filesystem::remove_all(folder_.file(""));
      std::filesystem::create_directories(folder_.file(""));
      StudyConfig config = fake_study_config(run_cap, 9);
      config.early_terminate = {pruner, 1, 9, 0, 3.0};
      const StudyResult result = run_study(config, options(), fake_parts(9, 0, 2));
      ASSERT_TRUE(result.best.has_value());
      EXPECT_EQ(result.best->intermediate.rbegin()->first, 9) << "the best trial trains to its full epochs";
      EXPECT_EQ(load_trial_state(result.best_weights).epoch, 9);
      EXPECT_EQ(result.progress.done(), run_cap);
      EXPECT_EQ(result.progress.paused, 0);
    }
  }
}

// The case as a user wrote it: digits' epochs 2 to 20, hyperband with eta 3, eight trials.
TEST_F(StudyTest, AHyperbandStudyCutShortByItsRunCapStillTrainsOneTrialFully) {
  StudyConfig config = fake_study_config(8, 20);
  config.early_terminate = {PrunerKind::hyperband, 2, 20, 0, 3.0};
  const StudyResult result = run_study(config, options(), fake_parts(20, 0, 2));
  ASSERT_TRUE(result.best.has_value());
  EXPECT_EQ(result.best->intermediate.rbegin()->first, 20);
  EXPECT_TRUE(std::filesystem::exists(result.best_weights));
}

const char* kSpaceYaml = R"(name: fake
method: random
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0}
  batch_size: {values: [32, 64, 128]}
  epochs: {value: 2}
run_cap: 3
)";

TEST_F(StudyTest, ARerunWithAnotherSearchSpaceIsRefusedUnlessAllowedAndThenRecorded) {
  const auto config_of = [&](const std::string& text, StudyOptions& options) {
    options.config_yaml = text;
    return parse_study_config(text, "space.yaml");
  };
  StudyOptions first = options();
  run_study(config_of(kSpaceYaml, first), first, fake_parts(2));

  std::string changed = kSpaceYaml;
  changed.replace(changed.find("max: 1.0"), 8, "max: 0.5");
  changed.replace(changed.find("run_cap: 3"), 10, "run_cap: 5");
  StudyOptions second = options();
  const StudyConfig changed_config = config_of(changed, second);
  try {
    run_study(changed_config, second, fake_parts(2));
    FAIL() << "a changed search space was accepted";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("parameters.lr: "), std::string::npos) << message;
    EXPECT_NE(message.find("-> "), std::string::npos) << message;
    EXPECT_EQ(message.find("run_cap"), std::string::npos) << "a larger budget is no new search:\n" << message;
    EXPECT_NE(message.find("--allow-config-change"), std::string::npos) << message;
    EXPECT_NE(message.find("study_name"), std::string::npos) << message;
  }
  EXPECT_EQ(records().size(), 3u) << "nothing ran";

  std::string more_trials = kSpaceYaml;
  more_trials.replace(more_trials.find("run_cap: 3"), 10, "run_cap: 4");
  StudyOptions budget = options();
  run_study(config_of(more_trials, budget), budget, fake_parts(2));
  EXPECT_EQ(records().size(), 4u) << "raising run_cap continues the same search";

  second.allow_config_change = true;
  std::vector<std::string> events;
  run_study(changed_config, second, fake_parts(2), [&](const StudyProgress& p) { events.push_back(p.event); });
  EXPECT_EQ(records().size(), 5u);
  EXPECT_TRUE(std::any_of(events.begin(), events.end(),
                          [](auto& e) { return e.find("changed configuration") != std::string::npos; }));
  EXPECT_EQ(open_sqlite_storage(folder_.file("study.db"))->find_study("fake")->config_yaml, changed);
}

TEST_F(StudyTest, AConfigurationThatCannotRunCreatesNoDatabase) {
  StudyConfig config = fake_study_config(3, 2);
  config.space.parameters.push_back({"label_smoothing", {}, 7});
  EXPECT_THROW(run_study(config, options(), fake_parts(2)), ConfigError);
  EXPECT_FALSE(std::filesystem::exists(folder_.file("study.db")));
  config = fake_study_config(3, 2);
  config.early_terminate = {PrunerKind::hyperband, 1, 9, 0, 0.5};  // eta must be > 1
  EXPECT_THROW(run_study(config, options(), fake_parts(2)), ConfigError);
  EXPECT_FALSE(std::filesystem::exists(folder_.file("study.db")));
}

TEST_F(StudyTest, RejectsParametersNoTrialUses) {
  StudyConfig config = fake_study_config(3, 2);
  config.space.parameters.push_back({"label_smoothing", {}, 7});
  EXPECT_THROW(run_study(config, options(), fake_parts(2)), ConfigError);
  config = fake_study_config(3, 2);
  config.metric.name = "validation_rmse";  // the tiny set is a classification set
  EXPECT_THROW(run_study(config, options(), fake_parts(2)), ConfigError);
}

}  // namespace
}  // namespace mlptune::tune
