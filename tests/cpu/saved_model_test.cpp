// Training on bundled data, saving to a safetensors file and loading it back: identical
// predictions, and the bundled line's slope and intercept recovered by linear regression.
#include <gtest/gtest.h>

#include <filesystem>

#include "cpu/cpu_backend.hpp"
#include "mlptune/safetensors.hpp"

namespace mlptune {
namespace {

std::shared_ptr<const DataSplits> bundled(const std::string& name) {
  SplitOptions options;
  options.scaling = default_scaling(name);
  return std::make_shared<const DataSplits>(load_bundled(name, options));
}

TEST(SavedModel, ReloadedFromFileGivesBitIdenticalPredictions) {
  const auto data = bundled("wine");
  TrialSpec spec;
  spec.model.input_width = int(data->train.cols);
  spec.model.hidden = {16, 8};
  spec.model.output_width = data->train.output_width();
  spec.train.epochs = 5;
  spec.train.batch_size = 16;
  spec.train.learning_rate = 0.01;
  auto backend = make_cpu_backend(1);
  auto trained = backend->make_trainer(spec, data);
  while (trained->train_epoch().status == TrialStatus::running) {
  }

  const auto path = std::filesystem::temp_directory_path() / "mlptune-saved-model-test.safetensors";
  save_trial_state(path, trained->state(), /*with_optimizer_state=*/true);
  auto reloaded = backend->make_trainer(spec, data);
  reloaded->load_state(load_trial_state(path));
  std::filesystem::remove(path);

  // The same parameters through the same code: every output bit for bit.
  const std::vector<float> expected = trained->predict(data->test);
  const std::vector<float> actual = reloaded->predict(data->test);
  ASSERT_EQ(actual.size(), data->test.rows * 3);
  for (std::size_t i = 0; i < expected.size(); ++i) ASSERT_EQ(actual[i], expected[i]) << "output " << i;
  EXPECT_EQ(reloaded->evaluate(data->test).accuracy, trained->evaluate(data->test).accuracy);
}

TEST(SavedModel, LinearRegressionOnTheBundledLineRecoversSlopeAndIntercept) {
  const auto data = bundled("line");  // y = 2x + 1 + 0.1·N(0, 1), unscaled
  const LineSpec truth;
  TrialSpec spec;
  spec.model.input_width = 1;
  spec.model.output_width = 1;
  spec.model.loss = Loss::mse;
  spec.train.optimizer = Optimizer::sgd;
  spec.train.learning_rate = 0.1;
  spec.train.batch_size = 32;
  spec.train.epochs = 30;
  auto trainer = make_cpu_backend(1)->make_trainer(spec, data);
  while (trainer->train_epoch().status == TrialStatus::running) {
  }
  const TrialState state = trainer->state();
  const float slope = state.parameters[0].data[0];
  const float intercept = state.parameters[1].data[0];
  // 1%: with 1,000 points and noise 0.1 the least-squares estimates have standard errors of about
  // 0.005 (slope) and 0.003 (intercept), so 1% of 2 and of 1 leaves room for SGD's own jitter.
  EXPECT_NEAR(slope, truth.slope, 0.01 * truth.slope);
  EXPECT_NEAR(intercept, truth.intercept, 0.01 * truth.intercept);
}

}  // namespace
}  // namespace mlptune
