// Helpers for the sampler tests: search spaces, a sequential ask/tell loop, and test functions.
#pragma once

#include <cmath>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "mlptune/tune/study_config.hpp"

namespace mlptune::tune::testing {

// Every distribution kind, under the names of `mlptune train` hyperparameters.
inline SearchSpace every_kind_space() {
  return parse_study_config(R"(method: random
run_cap: 10
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-5, max: 1.0e-1}
  momentum: {min: 0.0, max: 0.99}
  depth: {min: 1, max: 6}
  batch_size: {values: [32, 64, 128, 256], probabilities: [0.1, 0.2, 0.3, 0.4]}
  activation: {value: relu}
  width: {distribution: q_uniform, min: 16, max: 512, q: 16}
  weight_decay: {distribution: log_uniform, min: -12, max: -2}
  step_epochs: {distribution: q_log_uniform_values, min: 2, max: 64, q: 2}
  epsilon: {distribution: q_log_uniform, min: -20, max: -10, q: 1.0e-9}
  warmup: {distribution: inv_log_uniform, min: 0.0, max: 3.0}
  step_gamma: {distribution: inv_log_uniform_values, min: 0.01, max: 0.9}
  beta1: {distribution: beta, a: 8, b: 2}
  beta2: {distribution: q_beta, a: 2, b: 2, q: 0.001}
  init: {distribution: normal, mu: 0, sigma: 1}
  epochs: {distribution: q_normal, mu: 20, sigma: 5, q: 1}
  clip_norm: {distribution: log_normal, mu: 1, sigma: 0.5}
  schedule: {distribution: q_log_normal, mu: 3, sigma: 0.5, q: 2}
  hidden: {values: [[256, 128], [64]]}
  optimizer: {values: [sgd, adam]}
)",
                            "every_kind.yaml")
      .space;
}

// 3 x 2 x 4 x 1 = 24 points.
inline SearchSpace grid_space() {
  return parse_study_config(R"(method: grid
parameters:
  depth: {min: 1, max: 3}
  batch_size: {values: [32, 64]}
  width: {distribution: q_uniform, min: 16, max: 64, q: 16}
  activation: {value: relu}
)",
                            "grid.yaml")
      .space;
}

inline double as_number(const ParamValue& value) {
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return static_cast<double>(*integer);
  if (const auto* real = std::get_if<double>(&value)) return *real;
  return static_cast<double>(std::get<std::string>(value).size());
}

using Objective = std::function<double(const Params&)>;

// Sequential ask/tell: each trial is sampled with every earlier trial complete, then evaluated.
inline std::vector<FrozenTrial> run_study(Sampler& sampler, const SearchSpace& space, const Objective& objective,
                                          int trials, Goal goal = Goal::minimize) {
  std::vector<FrozenTrial> history;
  for (int number = 0; number < trials; ++number) {
    FrozenTrial trial;
    trial.number = number;
    trial.params = sampler.sample(space, history, goal, number);
    trial.value = objective(trial.params);
    trial.state = RunState::complete;
    history.push_back(trial);
  }
  return history;
}

inline double best_value(std::span<const FrozenTrial> trials) {
  double best = INFINITY;
  for (const auto& trial : trials) best = std::min(best, *trial.value);
  return best;
}

// A smooth objective over any space: each parameter adds a wave of its numeric value.
inline double wavy_objective(const Params& params) {
  double sum = 0.0;
  int index = 0;
  for (const auto& [name, value] : params) sum += std::sin(1.7 * as_number(value) + index++);
  return sum;
}

// Branin on [-5, 10] x [0, 15]; minimum 0.397887.
inline double branin(double x1, double x2) {
  constexpr double kPi = 3.14159265358979323846;
  const double b = 5.1 / (4 * kPi * kPi), c = 5 / kPi, t = 1 / (8 * kPi);
  return std::pow(x2 - b * x1 * x1 + c * x1 - 6, 2) + 10 * (1 - t) * std::cos(x1) + 10;
}

// Hartmann-6 on [0, 1]^6; minimum -3.32237.
inline double hartmann6(const double (&x)[6]) {
  constexpr double kAlpha[4] = {1.0, 1.2, 3.0, 3.2};
  constexpr double kA[4][6] = {
      {10, 3, 17, 3.5, 1.7, 8}, {0.05, 10, 17, 0.1, 8, 14}, {3, 3.5, 1.7, 10, 17, 8}, {17, 8, 0.05, 10, 0.1, 14}};
  constexpr double kP[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                               {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                               {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                               {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
  double sum = 0.0;
  for (int i = 0; i < 4; ++i) {
    double exponent = 0.0;
    for (int j = 0; j < 6; ++j) exponent += kA[i][j] * (x[j] - kP[i][j]) * (x[j] - kP[i][j]);
    sum += kAlpha[i] * std::exp(-exponent);
  }
  return -sum;
}

}  // namespace mlptune::tune::testing
