// Shared by the trainer tests (the CPU trainer's and the Trainer contract's): small training sets
// (a noisy line for regression, three Gaussian blobs for classification), their specs, and the
// expectations on a diverged trial.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "mlptune/backend.hpp"
#include "mlptune/data.hpp"

namespace mlptune::test {

// y = slope·x + intercept + noise·N(0, 1), x uniform in [-1, 1]; one feature, one target (the
// bundled `line` set's generator).
inline Dataset line_dataset(std::size_t rows, double slope, double intercept, double noise, std::uint32_t seed) {
  return make_line(rows, slope, intercept, noise, seed);
}

// Three Gaussian blobs in 4-D, one per class, centred at ±1 on different axes.
inline Dataset blobs_dataset(std::size_t rows, std::uint32_t seed) {
  Dataset set;
  set.name = "blobs";
  set.task = Task::classification;
  set.rows = rows;
  set.cols = 4;
  set.num_classes = 3;
  std::mt19937 engine(seed);
  std::normal_distribution<float> normal(0.0f, 0.7f);
  for (std::size_t r = 0; r < rows; ++r) {
    const int label = int(r % 3);
    set.labels.push_back(label);
    for (int c = 0; c < 4; ++c) set.features.push_back(normal(engine) + (c == label ? 1.5f : 0.0f));
  }
  return set;
}

inline std::shared_ptr<const DataSplits> splits(Dataset train, Dataset validation, Dataset test = {}) {
  auto data = std::make_shared<DataSplits>();
  data->train = std::move(train);
  data->validation = std::move(validation);
  data->test = std::move(test);
  return data;
}

// A linear model of the line, SGD with a cosine schedule (it anneals the SGD noise away).
inline TrialSpec line_spec() {
  TrialSpec spec;
  spec.model = {1, {}, 1, Activation::identity, Loss::mse, Init::xavier};
  spec.train.optimizer = Optimizer::sgd;
  spec.train.learning_rate = 0.1;
  spec.train.batch_size = 16;
  spec.train.epochs = 30;
  spec.train.schedule = Schedule::cosine;
  return spec;
}

// 4 → 16 → 8 → 3 with tanh, Adam.
inline TrialSpec blobs_spec() {
  TrialSpec spec;
  spec.model = {4, {16, 8}, 3, Activation::tanh, Loss::softmax_cross_entropy, Init::he};
  spec.train.optimizer = Optimizer::adam;
  spec.train.learning_rate = 1e-2;
  spec.train.batch_size = 32;
  spec.train.epochs = 5;
  spec.train.seed = 17;
  return spec;
}

// Epochs until the trial stops running; every report.
inline std::vector<EpochReport> train_all(Trainer& trainer) {
  std::vector<EpochReport> reports;
  do reports.push_back(trainer.train_epoch());
  while (reports.back().status == TrialStatus::running);
  return reports;
}

// The values of a list of tensors, one after another.
inline std::vector<float> flatten(const std::vector<Tensor>& tensors) {
  std::vector<float> flat;
  for (const Tensor& tensor : tensors) flat.insert(flat.end(), tensor.data.begin(), tensor.data.end());
  return flat;
}

// A trial stopped by a non-finite loss: its last report says "diverged at epoch E, step S" with
// S the step whose update was not applied, its loss is not finite, and `state` (taken after it)
// holds the finite parameters of the last applied step.
inline void expect_diverged_before_an_update(const EpochReport& last, const TrialState& state) {
  ASSERT_EQ(last.status, TrialStatus::diverged);
  std::smatch match;
  ASSERT_TRUE(std::regex_match(last.message, match, std::regex("diverged at epoch (\\d+), step (\\d+)")))
      << last.message;
  EXPECT_EQ(std::stoi(match[1]), last.epoch);
  EXPECT_EQ(std::stoll(match[2]), last.step + 1);  // the step that was not applied
  EXPECT_FALSE(std::isfinite(last.train_loss));
  for (const Tensor& tensor : state.parameters)
    for (float value : tensor.data) EXPECT_TRUE(std::isfinite(value)) << tensor.name;
  EXPECT_EQ(state.step, last.step);
}

}  // namespace mlptune::test
