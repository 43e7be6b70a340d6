// TrainConfig: one validation message per bad value, the learning-rate schedules, enum names.
#include "mlptune/train_config.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "mlptune/error.hpp"
#include "mlptune/trial.hpp"

namespace mlptune {
namespace {

struct BadValue {
  std::function<void(TrainConfig&)> change;
  std::string message;
};

TEST(TrainConfig, DefaultsAreValid) {
  EXPECT_NO_THROW(TrainConfig{}.validate());
}

TEST(TrainConfig, EachBadValueNamesItsFlagAndRange) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<BadValue> cases = {
      {[](TrainConfig& c) { c.learning_rate = -0.1; }, "--lr must be > 0 and finite (got -0.1)"},
      {[](TrainConfig& c) { c.learning_rate = 0; }, "--lr must be > 0 and finite (got 0)"},
      {[&](TrainConfig& c) { c.learning_rate = inf; }, "--lr must be > 0 and finite (got inf)"},
      {[](TrainConfig& c) { c.learning_rate = std::nan(""); }, "--lr must be > 0 and finite (got nan)"},
      {[](TrainConfig& c) { c.batch_size = 0; }, "--batch-size must be >= 1 (got 0)"},
      {[](TrainConfig& c) { c.epochs = 0; }, "--epochs must be >= 1 (got 0)"},
      {[](TrainConfig& c) { c.momentum = 1.0; }, "--momentum must be in [0, 1) (got 1)"},
      {[](TrainConfig& c) { c.momentum = -0.5; }, "--momentum must be in [0, 1) (got -0.5)"},
      {[](TrainConfig& c) { c.beta1 = 1.0; }, "--beta1 must be in [0, 1) (got 1)"},
      {[](TrainConfig& c) { c.beta2 = 1.5; }, "--beta2 must be in [0, 1) (got 1.5)"},
      {[](TrainConfig& c) { c.epsilon = 0; }, "--epsilon must be > 0 and finite (got 0)"},
      {[](TrainConfig& c) { c.weight_decay = -1e-4; }, "--weight-decay must be >= 0 and finite (got -1e-04)"},
      {[](TrainConfig& c) { c.warmup_epochs = -1; }, "--warmup must be >= 0 and finite (got -1)"},
      {[](TrainConfig& c) { c.step_epochs = 0; }, "--step-epochs must be >= 1 (got 0)"},
      {[](TrainConfig& c) { c.step_gamma = 0; }, "--step-gamma must be in (0, 1] (got 0)"},
      {[](TrainConfig& c) { c.step_gamma = 1.5; }, "--step-gamma must be in (0, 1] (got 1.5)"},
      {[](TrainConfig& c) { c.early_stopping_patience = -1; }, "--early-stopping must be >= 0 (got -1)"},
      {[](TrainConfig& c) { c.precision = Precision::bf16; },
       "--precision bf16 is not supported yet (reserved for a later engine): use fp32 or tf32"},
  };
  for (const BadValue& bad : cases) {
    TrainConfig config;
    bad.change(config);
    try {
      config.validate();
      ADD_FAILURE() << "accepted: " << bad.message;
    } catch (const ConfigError& error) {
      EXPECT_EQ(std::string(error.what()), bad.message);
    }
  }
}

TEST(TrainConfig, ABadValueCarriesItsSettingForEveryFrontEnd) {
  // The CLI prints what() as is; a study config puts requirement() after its YAML key.
  TrainConfig config;
  config.weight_decay = -1;
  try {
    config.validate();
    FAIL() << "accepted weight_decay -1";
  } catch (const SettingError& error) {
    EXPECT_EQ(error.setting(), "weight_decay");
    EXPECT_EQ(error.requirement(), "must be >= 0 and finite (got -1)");
    EXPECT_STREQ(error.what(), "--weight-decay must be >= 0 and finite (got -1)");
  }
}

TEST(TrainConfig, SmallestCountIsTheOneValidateChecks) {
  const std::pair<const char*, int TrainConfig::*> counts[] = {
      {"batch_size", &TrainConfig::batch_size},
      {"epochs", &TrainConfig::epochs},
      {"step_epochs", &TrainConfig::step_epochs},
      {"early_stopping", &TrainConfig::early_stopping_patience}};
  for (const auto& [setting, field] : counts) {
    TrainConfig config;
    config.*field = smallest_count(setting);
    EXPECT_NO_THROW(config.validate()) << setting;
    config.*field = smallest_count(setting) - 1;
    EXPECT_THROW(config.validate(), SettingError) << setting;
  }
  EXPECT_EQ(smallest_count("early_stopping"), 0);
  EXPECT_THROW(smallest_count("lr"), std::invalid_argument);
}

TEST(TrainConfig, BoundaryValuesInsideTheRangesPass) {
  TrainConfig config;
  config.momentum = 0.0;
  config.beta1 = 0.0;
  config.step_gamma = 1.0;
  config.weight_decay = 0.0;
  config.early_stopping_patience = 0;
  config.precision = Precision::tf32;
  EXPECT_NO_THROW(config.validate());
}

// Schedules: values at chosen steps against the formulas worked out by hand. Tolerance 1e-12
// relative: each value is a handful of double operations.
constexpr double kScheduleTolerance = 1e-12;

TEST(LearningRate, ConstantIsTheBaseRate) {
  TrainConfig config;
  config.learning_rate = 0.05;
  for (std::int64_t step : {0, 1, 99, 100000}) EXPECT_DOUBLE_EQ(learning_rate_at(config, step, 10), 0.05);
}

TEST(LearningRate, WarmupRampsLinearlyToTheBaseRate) {
  TrainConfig config;
  config.learning_rate = 0.1;
  config.warmup_epochs = 2;  // 20 steps at 10 steps per epoch
  EXPECT_NEAR(learning_rate_at(config, 0, 10), 0.1 * 1 / 20, kScheduleTolerance);
  EXPECT_NEAR(learning_rate_at(config, 9, 10), 0.1 * 10 / 20, kScheduleTolerance);
  EXPECT_NEAR(learning_rate_at(config, 19, 10), 0.1, kScheduleTolerance);
  EXPECT_NEAR(learning_rate_at(config, 20, 10), 0.1, kScheduleTolerance);
}

TEST(LearningRate, FractionalWarmupRoundsUpToWholeSteps) {
  TrainConfig config;
  config.learning_rate = 1.0;
  config.warmup_epochs = 0.25;  // 2.5 steps at 10 per epoch: 3 warm-up steps
  EXPECT_NEAR(learning_rate_at(config, 0, 10), 1.0 / 3, kScheduleTolerance);
  EXPECT_NEAR(learning_rate_at(config, 2, 10), 1.0, kScheduleTolerance);
}

TEST(LearningRate, WarmupLongerThanTheRunRampsOverTheWholeRun) {
  TrainConfig config;
  config.learning_rate = 1.0;
  config.epochs = 2;
  config.warmup_epochs = 1e300;  // clamped to the run's 20 steps, never converted out of range
  EXPECT_NEAR(learning_rate_at(config, 0, 10), 1.0 / 20, kScheduleTolerance);
  EXPECT_NEAR(learning_rate_at(config, 19, 10), 1.0, kScheduleTolerance);
}

TEST(LearningRate, StepDecaysByGammaEveryStepEpochs) {
  TrainConfig config;
  config.learning_rate = 0.1;
  config.schedule = Schedule::step;
  config.step_epochs = 3;
  config.step_gamma = 0.5;
  const std::int64_t steps_per_epoch = 7;
  EXPECT_NEAR(learning_rate_at(config, 0, steps_per_epoch), 0.1, kScheduleTolerance);
  EXPECT_NEAR(learning_rate_at(config, 3 * 7 - 1, steps_per_epoch), 0.1, kScheduleTolerance);    // epoch 2
  EXPECT_NEAR(learning_rate_at(config, 3 * 7, steps_per_epoch), 0.05, kScheduleTolerance);       // epoch 3
  EXPECT_NEAR(learning_rate_at(config, 6 * 7 + 4, steps_per_epoch), 0.025, kScheduleTolerance);  // epoch 6
}

TEST(LearningRate, CosineFallsFromTheBaseRateToZeroOverTheRun) {
  TrainConfig config;
  config.learning_rate = 0.2;
  config.schedule = Schedule::cosine;
  config.epochs = 10;
  const std::int64_t steps_per_epoch = 10;  // 100 steps in all
  EXPECT_NEAR(learning_rate_at(config, 0, steps_per_epoch), 0.2, kScheduleTolerance);
  EXPECT_NEAR(learning_rate_at(config, 50, steps_per_epoch), 0.1, kScheduleTolerance);
  EXPECT_NEAR(learning_rate_at(config, 25, steps_per_epoch), 0.1 * (1 + std::cos(std::numbers::pi / 4)),
              kScheduleTolerance);
  EXPECT_NEAR(learning_rate_at(config, 100, steps_per_epoch), 0.0, kScheduleTolerance);
  EXPECT_NEAR(learning_rate_at(config, 150, steps_per_epoch), 0.0, kScheduleTolerance);  // past the horizon
}

TEST(LearningRate, CosineStartsAfterWarmup) {
  TrainConfig config;
  config.learning_rate = 1.0;
  config.schedule = Schedule::cosine;
  config.epochs = 10;
  config.warmup_epochs = 2;  // 20 of the 100 steps; the cosine spans the other 80
  EXPECT_NEAR(learning_rate_at(config, 4, 10), 5.0 / 20, kScheduleTolerance);
  EXPECT_NEAR(learning_rate_at(config, 20, 10), 1.0, kScheduleTolerance);
  EXPECT_NEAR(learning_rate_at(config, 60, 10), 0.5, kScheduleTolerance);
  EXPECT_NEAR(learning_rate_at(config, 100, 10), 0.0, kScheduleTolerance);
}

TEST(TrainEnums, NamesRoundTrip) {
  for (Optimizer optimizer :
       {Optimizer::sgd, Optimizer::momentum, Optimizer::nesterov, Optimizer::adam, Optimizer::adamw})
    EXPECT_EQ(parse_optimizer(to_string(optimizer)), optimizer);
  for (Schedule schedule : {Schedule::constant, Schedule::step, Schedule::cosine})
    EXPECT_EQ(parse_schedule(to_string(schedule)), schedule);
  for (Precision precision : {Precision::fp32, Precision::tf32})
    EXPECT_EQ(parse_precision(to_string(precision)), precision);
  EXPECT_EQ(to_string(Precision::bf16), "bf16");
  EXPECT_EQ(to_string(Optimizer::adamw), "adamw");
  EXPECT_EQ(to_string(Schedule::cosine), "cosine");
  EXPECT_EQ(to_string(Precision::tf32), "tf32");
}

TEST(TrainEnums, UnknownNamesListTheAcceptedOnes) {
  try {
    parse_optimizer("rmsprop");
    FAIL() << "parse_optimizer accepted 'rmsprop'";
  } catch (const ConfigError& error) {
    EXPECT_STREQ(error.what(), "unknown optimizer 'rmsprop': use sgd, momentum, nesterov, adam or adamw");
  }
  EXPECT_THROW(parse_schedule("linear"), ConfigError);
}

std::string parse_error(std::string_view text) {
  try {
    parse_precision(text);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "accepted";
}

TEST(TrainEnums, PrecisionSuggestsOnlyWhatRuns) {
  // bf16 is named (a reserved value) but refused, so no message may offer it.
  EXPECT_EQ(parse_error("fp16"), "unknown precision 'fp16': use fp32 or tf32");
  EXPECT_EQ(parse_error("bf16"), "precision bf16 is not supported yet: use fp32 or tf32");
}

TEST(TrialStatusNames, EveryStatusHasItsName) {
  EXPECT_EQ(to_string(TrialStatus::running), "running");
  EXPECT_EQ(to_string(TrialStatus::completed), "completed");
  EXPECT_EQ(to_string(TrialStatus::stopped_early), "stopped_early");
  EXPECT_EQ(to_string(TrialStatus::diverged), "diverged");
  EXPECT_EQ(to_string(TrialStatus::failed), "failed");
}

}  // namespace
}  // namespace mlptune
