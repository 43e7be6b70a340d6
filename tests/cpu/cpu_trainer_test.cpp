// The CPU trainer on small hand-built datasets: learning, divergence, determinism, state round
// trips, early stopping, partial batches, agreement with the reference step, and spec errors.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "cpu/cpu_backend.hpp"
#include "cpu/reference.hpp"
#include "mlptune/error.hpp"
#include "reference_mlp.hpp"
#include "trainer_test_support.hpp"

namespace mlptune {
namespace {

using test::blobs_dataset;
using test::blobs_spec;
using test::line_dataset;
using test::line_spec;
using test::splits;
using test::train_all;

TEST(CpuTrainer, LinearRegressionRecoversSlopeAndIntercept) {
  auto backend = make_cpu_backend(1);
  auto data = splits(line_dataset(1000, 2.0, 1.0, 0.1, 1), line_dataset(200, 2.0, 1.0, 0.1, 2));
  auto trainer = backend->make_trainer(line_spec(), data);
  const std::vector<EpochReport> reports = train_all(*trainer);
  EXPECT_EQ(reports.size(), 30u);
  EXPECT_EQ(reports.back().status, TrialStatus::completed);
  const TrialState state = trainer->state();
  const float slope = state.parameters[0].data[0], intercept = state.parameters[1].data[0];
  // The least-squares fit on 1000 points with noise 0.1 is within ~0.5% of (2, 1); 1% as asked.
  EXPECT_NEAR(slope, 2.0, 0.02);
  EXPECT_NEAR(intercept, 1.0, 0.01);
  // The validation RMSE is the noise level (0.1) once the line is found; 0.12 allows sampling.
  EXPECT_LT(reports.back().validation.rmse, 0.12);
  EXPECT_GT(reports.back().samples_per_second, 0.0);
  std::printf("line fit: slope %.5f intercept %.5f validation rmse %.5f\n", slope, intercept,
              reports.back().validation.rmse);
}

TEST(CpuTrainer, HugeLearningRateDivergesWithEpochAndStepAndFiniteParameters) {
  auto backend = make_cpu_backend(1);
  TrialSpec spec = line_spec();
  spec.train.learning_rate = 50.0;
  spec.train.schedule = Schedule::constant;
  auto trainer = backend->make_trainer(spec, splits(line_dataset(256, 2.0, 1.0, 0.1, 3), {}));
  const std::vector<EpochReport> reports = train_all(*trainer);
  test::expect_diverged_before_an_update(reports.back(), trainer->state());
  if (HasFatalFailure()) return;
  EXPECT_THROW(trainer->train_epoch(), Error);  // terminal
}

TEST(CpuTrainer, SameSeedGivesIdenticalMetrics) {
  auto backend = make_cpu_backend(1);
  auto data = splits(blobs_dataset(300, 4), blobs_dataset(90, 5));
  auto first = train_all(*backend->make_trainer(blobs_spec(), data));
  auto second = train_all(*backend->make_trainer(blobs_spec(), data));
  ASSERT_EQ(first.size(), second.size());
  for (std::size_t e = 0; e < first.size(); ++e) {
    EXPECT_EQ(first[e].train_loss, second[e].train_loss);  // bit for bit: same backend, same thread count
    EXPECT_EQ(first[e].validation.loss, second[e].validation.loss);
    EXPECT_EQ(first[e].validation.accuracy, second[e].validation.accuracy);
  }
  TrialSpec other_seed = blobs_spec();
  other_seed.train.seed = 18;
  EXPECT_NE(train_all(*backend->make_trainer(other_seed, data)).back().train_loss, first.back().train_loss);
  // The blobs overlap (means 2.1 apart, stddev 0.7): the best possible accuracy is about 0.89 and
  // chance is 1/3; above 0.8 shows the network learned them.
  EXPECT_GT(first.back().validation.accuracy, 0.8);
}

TEST(CpuTrainer, StateLoadedIntoAFreshTrainerGivesIdenticalPredictionsAndContinuation) {
  auto backend = make_cpu_backend(1);
  auto data = splits(blobs_dataset(300, 6), blobs_dataset(90, 7));
  auto original = backend->make_trainer(blobs_spec(), data);
  original->train_epoch();
  original->train_epoch();
  const TrialState saved = original->state();
  EXPECT_EQ(saved.epoch, 2);
  EXPECT_EQ(saved.step, 2 * 10);  // 300 rows / 32 = 10 steps per epoch
  ASSERT_EQ(saved.first_moment.size(), 6u);
  ASSERT_EQ(saved.second_moment.size(), 6u);

  auto restored = backend->make_trainer(blobs_spec(), data);
  EXPECT_NE(restored->predict(data->validation), original->predict(data->validation));
  restored->load_state(saved);
  EXPECT_EQ(restored->predict(data->validation), original->predict(data->validation));
  // The optimizer state and counters came along: the next epoch is the same on both.
  EXPECT_EQ(restored->train_epoch().train_loss, original->train_epoch().train_loss);
  EXPECT_EQ(restored->state().parameters[0].data, original->state().parameters[0].data);
}

TEST(CpuTrainer, LoadStateRejectsOtherShapes) {
  auto backend = make_cpu_backend(1);
  auto data = splits(blobs_dataset(60, 8), {});
  TrialState state = backend->make_trainer(blobs_spec(), data)->state();
  TrialSpec wider = blobs_spec();
  wider.model.hidden = {16, 9};
  auto trainer = backend->make_trainer(wider, data);
  try {
    trainer->load_state(state);
    FAIL() << "a state of another shape loaded";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("layers.1.weight"), std::string::npos) << error.what();
  }
  state.parameters.pop_back();
  EXPECT_THROW(backend->make_trainer(blobs_spec(), data)->load_state(state), ConfigError);
}

TEST(CpuTrainer, EarlyStoppingAfterPatienceEpochsWithoutBetterValidationLoss) {
  // Validation labels are the training labels shifted by one class: the better the fit, the
  // worse the validation loss, so it never improves after epoch 1.
  Dataset validation = blobs_dataset(90, 9);
  for (auto& label : validation.labels) label = (label + 1) % 3;
  auto backend = make_cpu_backend(1);
  TrialSpec spec = blobs_spec();
  spec.train.epochs = 20;
  spec.train.early_stopping_patience = 2;
  auto trainer = backend->make_trainer(spec, splits(blobs_dataset(300, 10), validation));
  const std::vector<EpochReport> reports = train_all(*trainer);
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports.back().status, TrialStatus::stopped_early);
  EXPECT_GT(reports[2].validation.loss, reports[0].validation.loss);
  EXPECT_EQ(trainer->state().epochs_since_best, 2);
  EXPECT_THROW(trainer->train_epoch(), Error);
}

// 10 rows at batch 4: batches of 4, 4 and 2. With shuffle off and SGD the trainer's parameters
// after one epoch must equal three reference steps in double on the same batches.
TEST(CpuTrainer, EpochWithALastPartialBatchMatchesReferenceSteps) {
  TrialSpec spec;
  spec.model = {3, {5}, 2, Activation::sigmoid, Loss::mse, Init::xavier};
  spec.train.optimizer = Optimizer::momentum;
  spec.train.learning_rate = 0.3;
  spec.train.weight_decay = 0.01;
  spec.train.batch_size = 4;
  spec.train.epochs = 1;
  spec.train.shuffle = false;
  Dataset train;
  train.name = "tiny";
  train.task = Task::regression;
  train.rows = 10;
  train.cols = 3;
  train.target_width = 2;
  std::mt19937 engine(12);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (int k = 0; k < 30; ++k) train.features.push_back(uniform(engine));
  for (int k = 0; k < 20; ++k) train.targets.push_back(uniform(engine));

  auto trainer = make_cpu_backend(1)->make_trainer(spec, splits(train, {}));
  const EpochReport report = trainer->train_epoch();
  EXPECT_EQ(report.step, 3);

  test::Parameters<double> parameters = test::to_parameters<double>(ref::initialize_weights(spec.model, 0));
  test::Parameters<double> velocity = parameters;
  for (auto& tensor : velocity) std::fill(tensor.begin(), tensor.end(), 0.0);
  const std::vector<double> x(train.features.begin(), train.features.end());
  const std::vector<double> y(train.targets.begin(), train.targets.end());
  double loss_sum = 0;
  for (int first = 0, step = 1; first < 10; first += 4, ++step) {
    const int batch = std::min(4, 10 - first);
    test::Parameters<double> gradients;
    loss_sum += batch * test::mlp_loss(spec.model, parameters, x.data() + first * 3, nullptr, y.data() + first * 2,
                                       batch, &gradients);
    const auto update = ref::optimizer_step(spec.train, spec.train.learning_rate, step);
    for (std::size_t t = 0; t < parameters.size(); ++t)
      ref::optimizer_update(update, parameters[t].data(), gradients[t].data(), velocity[t].data(),
                            static_cast<double*>(nullptr), parameters[t].size());
  }
  // float against double over 3 steps on values of order 1: a few float roundings, 1e-5.
  const TrialState state = trainer->state();
  for (std::size_t t = 0; t < parameters.size(); ++t)
    for (std::size_t k = 0; k < parameters[t].size(); ++k)
      EXPECT_NEAR(state.parameters[t].data[k], parameters[t][k], 1e-5) << state.parameters[t].name << "[" << k << "]";
  EXPECT_NEAR(report.train_loss, loss_sum / 10, 1e-5);
}

TEST(CpuTrainer, EvaluateReportsRmseInFileUnits) {
  Dataset validation = line_dataset(50, 2.0, 1.0, 0.0, 13);
  validation.target_scale = 3.0;
  auto trainer = make_cpu_backend(1)->make_trainer(line_spec(), splits(line_dataset(50, 2.0, 1.0, 0.0, 14), {}));
  const Metrics metrics = trainer->evaluate(validation);
  EXPECT_EQ(metrics.samples, 50);
  // Exact relation of the two numbers computed from the same double: 1e-12 relative.
  EXPECT_NEAR(metrics.rmse, 3.0 * std::sqrt(metrics.loss), 1e-12 * metrics.rmse);
  EXPECT_GT(metrics.loss, 0.0);
  EXPECT_TRUE(std::isnan(metrics.accuracy));
}

TEST(CpuTrainer, ExtendEpochsContinuesACompletedTrial) {
  TrialSpec spec = blobs_spec();
  spec.train.epochs = 1;
  auto trainer = make_cpu_backend(1)->make_trainer(spec, splits(blobs_dataset(64, 15), {}));
  EXPECT_EQ(trainer->train_epoch().status, TrialStatus::completed);
  trainer->extend_epochs(3);
  EXPECT_EQ(trainer->spec().train.epochs, 3);
  EXPECT_EQ(trainer->train_epoch().status, TrialStatus::running);
  EXPECT_EQ(trainer->train_epoch().status, TrialStatus::completed);
  EXPECT_THROW(trainer->extend_epochs(2), ConfigError);
}

std::string make_trainer_error(TrialSpec spec, std::shared_ptr<const DataSplits> data) {
  try {
    make_cpu_backend(1)->make_trainer(spec, data);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(CpuTrainer, SpecsThatDoNotFitTheDataAreConfigErrors) {
  auto blobs = splits(blobs_dataset(30, 16), {});
  TrialSpec wrong_input = blobs_spec();
  wrong_input.model.input_width = 5;
  EXPECT_EQ(make_trainer_error(wrong_input, blobs),
            "model input width 5 does not match the 4 feature columns of 'blobs'");
  TrialSpec wrong_output = blobs_spec();
  wrong_output.model.output_width = 4;
  EXPECT_EQ(make_trainer_error(wrong_output, blobs),
            "model output width 4 does not match the 3 outputs (classes or targets) of 'blobs'");
  TrialSpec wrong_loss = blobs_spec();
  wrong_loss.model.loss = Loss::mse;
  EXPECT_EQ(make_trainer_error(wrong_loss, blobs),
            "--loss mse does not fit the classification data 'blobs': use softmax_cross_entropy");
  TrialSpec bad_rate = blobs_spec();
  bad_rate.train.learning_rate = -1;
  EXPECT_EQ(make_trainer_error(bad_rate, blobs), "--lr must be > 0 and finite (got -1)");
  TrialSpec patience = blobs_spec();
  patience.train.early_stopping_patience = 3;
  EXPECT_NE(make_trainer_error(patience, blobs).find("--early-stopping needs a validation split"), std::string::npos);
  EXPECT_THROW(make_cpu_backend(-1), ConfigError);

  auto trainer = make_cpu_backend(1)->make_trainer(blobs_spec(), blobs);
  EXPECT_THROW(trainer->predict(line_dataset(5, 1, 0, 0, 1)), ConfigError);
  Dataset four_features_as_regression = line_dataset(6, 1, 0, 0, 1);
  four_features_as_regression.cols = 4;
  four_features_as_regression.features.resize(24, 0.0f);
  EXPECT_THROW(trainer->evaluate(four_features_as_regression), ConfigError);
}

TEST(CpuBackend, NameAndConcurrency) {
  auto backend = make_cpu_backend(1);
  EXPECT_EQ(backend->name().rfind("cpu", 0), 0u);
  EXPECT_GE(backend->recommended_concurrency(), 1);
}

}  // namespace
}  // namespace mlptune
