// The Trainer contract, stated once as a typed GoogleTest suite that every backend passes. A test
// program instantiates it with its backends (tests/engine: the CPU backend and the multi-device
// backend over CPU backends; tests/cuda: the CUDA backend and the multi-device backend over it),
// each given as a type with
//   static std::string name();
//   static std::optional<std::string> unavailable();  // why it cannot run here, or nothing
//   static bool required();                           // an unavailable backend fails, not skips
//   static std::unique_ptr<Backend> make();
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mlptune/backend.hpp"
#include "mlptune/error.hpp"
#include "thrown_message.hpp"
#include "trainer_test_support.hpp"

namespace mlptune::test {

template <class Maker>
class TrainerContract : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::optional<std::string> reason = Maker::unavailable()) {
      if (Maker::required()) FAIL() << Maker::name() << ": " << *reason << ", but the backend is required here";
      GTEST_SKIP() << Maker::name() << ": " << *reason;
    }
    backend_ = Maker::make();
  }

  std::unique_ptr<Trainer> make(const TrialSpec& spec, std::shared_ptr<const DataSplits> data) {
    return backend_->make_trainer(spec, std::move(data));
  }

 private:
  std::unique_ptr<Backend> backend_;
};

// Names instantiations after their backend: "Host/TrainerContract/cpu.StateRoundTripContinuesExactly".
struct BackendName {
  template <class Maker>
  static std::string GetName(int) {
    return Maker::name();
  }
};

TYPED_TEST_SUITE_P(TrainerContract);

// Bit for bit: parameters, optimizer slots, counters and the early-stopping record.
inline void expect_same_state(const TrialState& actual, const TrialState& expected) {
  EXPECT_EQ(flatten(actual.parameters), flatten(expected.parameters));
  EXPECT_EQ(flatten(actual.first_moment), flatten(expected.first_moment));
  EXPECT_EQ(flatten(actual.second_moment), flatten(expected.second_moment));
  EXPECT_EQ(actual.step, expected.step);
  EXPECT_EQ(actual.epoch, expected.epoch);
  EXPECT_EQ(actual.best_validation_loss, expected.best_validation_loss);
  EXPECT_EQ(actual.epochs_since_best, expected.epochs_since_best);
}

// Pausing after 2 of 4 epochs (state), resuming in a new trainer (load_state) and training on
// equals training straight through, bit for bit: parameters, optimizer slots, counters, the
// early-stopping record, and every later report.
TYPED_TEST_P(TrainerContract, StateRoundTripContinuesExactly) {
  TrialSpec spec = blobs_spec();
  spec.train.epochs = 4;
  spec.train.schedule = Schedule::cosine;
  const auto data = splits(blobs_dataset(300, 6), blobs_dataset(90, 7));
  const auto straight = this->make(spec, data);
  const std::vector<EpochReport> straight_reports = train_all(*straight);
  ASSERT_EQ(straight_reports.size(), 4u);

  const auto first = this->make(spec, data);
  first->train_epoch();
  first->train_epoch();
  const TrialState paused = first->state();
  EXPECT_EQ(paused.epoch, 2);
  EXPECT_EQ(paused.step, 2 * 10);  // 300 rows in batches of 32: 10 steps per epoch
  const auto resumed = this->make(spec, data);
  resumed->load_state(paused);
  {
    SCOPED_TRACE("state after load_state");  // state and load_state are inverses
    expect_same_state(resumed->state(), paused);
  }
  const std::vector<EpochReport> resumed_reports = train_all(*resumed);
  ASSERT_EQ(resumed_reports.size(), 2u);
  for (std::size_t e = 0; e < 2; ++e) {
    SCOPED_TRACE("epoch " + std::to_string(e + 3));
    const EpochReport& expected = straight_reports[e + 2];
    EXPECT_EQ(resumed_reports[e].epoch, expected.epoch);
    EXPECT_EQ(resumed_reports[e].step, expected.step);
    EXPECT_EQ(resumed_reports[e].train_loss, expected.train_loss);
    EXPECT_EQ(resumed_reports[e].validation.loss, expected.validation.loss);
    EXPECT_EQ(resumed_reports[e].learning_rate, expected.learning_rate);
    EXPECT_EQ(resumed_reports[e].status, expected.status);
  }
  SCOPED_TRACE("state at the end");
  expect_same_state(resumed->state(), straight->state());
}

// A promoted trial: extend_epochs raises the budget and the trial goes on, with the learning rate
// still on the schedule it started with (cosine over 2 epochs: zero after them).
TYPED_TEST_P(TrainerContract, ExtendEpochsContinuesTheScheduleItStartedWith) {
  TrialSpec spec = blobs_spec();
  spec.train.epochs = 2;
  spec.train.schedule = Schedule::cosine;
  const auto trainer = this->make(spec, splits(blobs_dataset(300, 15), blobs_dataset(90, 16)));
  std::vector<EpochReport> reports = train_all(*trainer);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports.back().status, TrialStatus::completed);
  EXPECT_THROW(trainer->extend_epochs(1), ConfigError);
  trainer->extend_epochs(4);
  EXPECT_EQ(trainer->spec().train.epochs, 4);
  for (const EpochReport& report : train_all(*trainer)) reports.push_back(report);
  ASSERT_EQ(reports.size(), 4u);
  EXPECT_EQ(reports[2].status, TrialStatus::running);
  EXPECT_EQ(reports[3].status, TrialStatus::completed);
  EXPECT_EQ(trainer->state().epoch, 4);
  const std::int64_t steps_per_epoch = 10;
  for (const EpochReport& report : reports) {
    SCOPED_TRACE("epoch " + std::to_string(report.epoch));
    EXPECT_EQ(report.step, report.epoch * steps_per_epoch);
    EXPECT_EQ(report.learning_rate, learning_rate_at(spec.train, report.step - 1, steps_per_epoch));
  }
  // The test can tell the horizons apart: the extended budget's own schedule is not zero there.
  TrainConfig extended = spec.train;
  extended.epochs = 4;
  EXPECT_NE(learning_rate_at(extended, reports[2].step - 1, steps_per_epoch), reports[2].learning_rate);
}

// A linear model with a huge learning rate: the loss overflows, the trial stops before that step's
// update, at the same step every time, and says where.
TYPED_TEST_P(TrainerContract, DivergenceStopsAtTheSameStepEveryTime) {
  TrialSpec spec = line_spec();
  spec.train.learning_rate = 50.0;
  spec.train.schedule = Schedule::constant;
  const auto data = splits(line_dataset(256, 2.0, 1.0, 0.1, 3), {});
  const auto trainer = this->make(spec, data);
  const std::vector<EpochReport> reports = train_all(*trainer);
  const EpochReport& last = reports.back();
  const TrialState state = trainer->state();
  expect_diverged_before_an_update(last, state);
  if (this->HasFatalFailure()) return;
  EXPECT_EQ(state.epoch, last.epoch - 1);  // the diverged epoch does not count

  const std::vector<EpochReport> again = train_all(*this->make(spec, data));
  EXPECT_EQ(again.size(), reports.size());
  EXPECT_EQ(again.back().message, last.message);
  EXPECT_EQ(again.back().step, last.step);
}

// A spec whose widths do not fit the data is refused when the trainer is made, in the same words on
// every backend; so are splits of other widths given to evaluate or predict.
TYPED_TEST_P(TrainerContract, SpecsThatDoNotFitTheDataAreConfigErrors) {
  const auto blobs = splits(blobs_dataset(30, 16), {});
  TrialSpec wrong_input = blobs_spec();
  wrong_input.model.input_width = 5;
  EXPECT_EQ(testing::thrown_message<ConfigError>([&] { this->make(wrong_input, blobs); }),
            "model input width 5 does not match the 4 feature columns of 'blobs'");
  TrialSpec wrong_output = blobs_spec();
  wrong_output.model.output_width = 4;
  EXPECT_EQ(testing::thrown_message<ConfigError>([&] { this->make(wrong_output, blobs); }),
            "model output width 4 does not match the 3 outputs (classes or targets) of 'blobs'");

  const auto trainer = this->make(blobs_spec(), blobs);
  Dataset five_features = blobs_dataset(6, 17);
  five_features.cols = 5;
  five_features.features.resize(30, 0.0f);
  EXPECT_EQ(testing::thrown_message<ConfigError>([&] { trainer->predict(five_features); }),
            "split 'blobs' has 5 feature columns; the model takes 4");
  Dataset four_classes = blobs_dataset(8, 18);
  four_classes.num_classes = 4;
  EXPECT_EQ(testing::thrown_message<ConfigError>([&] { trainer->evaluate(four_classes); }),
            "split 'blobs' has 4 classes; the model has 3 outputs with loss softmax_cross_entropy");
}

// evaluate's loss and accuracy (or RMSE) are those of predict's outputs. The test recomputes them
// in double from the float outputs; the trainers compute each sample's loss in float from the same
// outputs (expf/logf within 2 ulp, a sum over a few classes): 1e-5 relative + 1e-6 absolute. The
// argmax of the same outputs is the same, so the accuracy is equal.
TYPED_TEST_P(TrainerContract, EvaluateAgreesWithPredict) {
  const auto blobs = splits(blobs_dataset(300, 21), blobs_dataset(91, 22));
  const auto classifier = this->make(blobs_spec(), blobs);
  classifier->train_epoch();
  const Dataset& validation = blobs->validation;
  const Metrics metrics = classifier->evaluate(validation);
  const std::vector<float> logits = classifier->predict(validation);
  ASSERT_EQ(logits.size(), validation.rows * 3);
  double loss = 0.0;
  std::int64_t correct = 0;
  for (std::size_t r = 0; r < validation.rows; ++r) {
    const float* row = logits.data() + r * 3;
    const std::size_t best = std::size_t(std::max_element(row, row + 3) - row);
    double exp_sum = 0.0;
    for (int c = 0; c < 3; ++c) exp_sum += std::exp(double(row[c]) - double(row[best]));
    loss += std::log(exp_sum) + double(row[best]) - double(row[validation.labels[r]]);
    correct += int(best) == validation.labels[r];
  }
  loss /= double(validation.rows);
  EXPECT_EQ(metrics.samples, std::int64_t(validation.rows));
  EXPECT_NEAR(metrics.loss, loss, 1e-6 + 1e-5 * loss);
  EXPECT_EQ(metrics.accuracy, double(correct) / double(validation.rows));

  Dataset line_validation = line_dataset(53, 2.0, 1.0, 0.1, 24);
  line_validation.target_scale = 3.0;
  const auto line = splits(line_dataset(200, 2.0, 1.0, 0.1, 23), line_validation);
  const auto regressor = this->make(line_spec(), line);
  regressor->train_epoch();
  const Metrics line_metrics = regressor->evaluate(line->validation);
  const std::vector<float> outputs = regressor->predict(line->validation);
  ASSERT_EQ(outputs.size(), line->validation.rows);
  double squares = 0.0;
  for (std::size_t r = 0; r < outputs.size(); ++r) {
    const double difference = double(outputs[r]) - double(line->validation.targets[r]);
    squares += difference * difference;
  }
  const double mse = squares / double(outputs.size());
  EXPECT_NEAR(line_metrics.loss, mse, 1e-6 + 1e-5 * mse);
  EXPECT_NEAR(line_metrics.rmse, 3.0 * std::sqrt(mse), 1e-6 + 1e-5 * 3.0 * std::sqrt(mse));
  EXPECT_TRUE(std::isnan(line_metrics.accuracy));
}

// Completed, diverged and stopped early are terminal: train_epoch throws and leaves the trial as
// it was (its state and its evaluation still work).
TYPED_TEST_P(TrainerContract, TrainEpochAfterATerminalStatusThrows) {
  TrialSpec one_epoch = blobs_spec();
  one_epoch.train.epochs = 1;
  const auto data = splits(blobs_dataset(64, 31), blobs_dataset(30, 32));
  const auto completed = this->make(one_epoch, data);
  EXPECT_EQ(completed->train_epoch().status, TrialStatus::completed);
  const TrialState before = completed->state();
  EXPECT_THROW(completed->train_epoch(), Error);
  EXPECT_EQ(completed->state().step, before.step);
  EXPECT_EQ(completed->evaluate(data->validation).samples, 30);

  TrialSpec diverging = line_spec();
  diverging.train.learning_rate = 50.0;
  diverging.train.schedule = Schedule::constant;
  const auto diverged = this->make(diverging, splits(line_dataset(256, 2.0, 1.0, 0.1, 3), {}));
  ASSERT_EQ(train_all(*diverged).back().status, TrialStatus::diverged);
  EXPECT_THROW(diverged->train_epoch(), Error);
  EXPECT_THROW(diverged->train_epoch(), Error);
}

// Early stopping on validation loss: validation labels are the training labels shifted by one
// class, so the better the fit, the worse the validation loss. The trial stops exactly `patience`
// epochs after its best validation loss, long before its budget.
TYPED_TEST_P(TrainerContract, EarlyStoppingStopsAfterPatienceEpochsWithoutImprovement) {
  Dataset validation = blobs_dataset(90, 9);
  for (auto& label : validation.labels) label = (label + 1) % 3;
  TrialSpec spec = blobs_spec();
  spec.train.epochs = 20;
  spec.train.early_stopping_patience = 2;
  const auto trainer = this->make(spec, splits(blobs_dataset(300, 10), validation));
  const std::vector<EpochReport> reports = train_all(*trainer);
  ASSERT_EQ(reports.back().status, TrialStatus::stopped_early) << reports.back().message;
  std::size_t best = 0;
  for (std::size_t e = 1; e < reports.size(); ++e)
    if (reports[e].validation.loss < reports[best].validation.loss) best = e;
  EXPECT_EQ(reports.size(), best + 1 + 2);
  EXPECT_LT(reports.size(), 20u);
  EXPECT_EQ(reports.back().message, "stopped early after " + std::to_string(reports.size()) +
                                        " epochs: no better validation loss for 2 epochs");
  const TrialState state = trainer->state();
  EXPECT_EQ(state.epochs_since_best, 2);
  EXPECT_EQ(state.best_validation_loss, reports[best].validation.loss);
  EXPECT_THROW(trainer->train_epoch(), Error);
}

REGISTER_TYPED_TEST_SUITE_P(TrainerContract, StateRoundTripContinuesExactly,
                            ExtendEpochsContinuesTheScheduleItStartedWith, DivergenceStopsAtTheSameStepEveryTime,
                            SpecsThatDoNotFitTheDataAreConfigErrors, EvaluateAgreesWithPredict,
                            TrainEpochAfterATerminalStatusThrows,
                            EarlyStoppingStopsAfterPatienceEpochsWithoutImprovement);

}  // namespace mlptune::test
