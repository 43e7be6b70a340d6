// Optimizer updates: several steps of every optimizer, with and without weight decay, against the
// torch.optim formulas written out independently here, element by element.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "cpu/reference.hpp"

namespace mlptune {
namespace {

constexpr int kSteps = 5;
constexpr std::size_t kCount = 7;

// The closed form of one element's history: parameter after each step given the gradients.
struct ElementState {
  double parameter, first = 0, second = 0;
};

void closed_form_step(Optimizer optimizer, const ref::OptimizerStep& s, double gradient, ElementState& e) {
  const double lr = s.learning_rate, wd = s.weight_decay;
  if (optimizer == Optimizer::adamw) e.parameter *= 1 - lr * wd;
  const double g = optimizer == Optimizer::adamw ? gradient : gradient + wd * e.parameter;
  switch (optimizer) {
    case Optimizer::sgd:
      e.parameter -= lr * g;
      break;
    case Optimizer::momentum:
    case Optimizer::nesterov:
      e.first = s.momentum * e.first + g;
      e.parameter -= lr * (optimizer == Optimizer::nesterov ? g + s.momentum * e.first : e.first);
      break;
    case Optimizer::adam:
    case Optimizer::adamw: {
      e.first = s.beta1 * e.first + (1 - s.beta1) * g;
      e.second = s.beta2 * e.second + (1 - s.beta2) * g * g;
      const double m_hat = e.first / (1 - std::pow(s.beta1, double(s.step)));
      const double v_hat = e.second / (1 - std::pow(s.beta2, double(s.step)));
      e.parameter -= lr * m_hat / (std::sqrt(v_hat) + s.epsilon);
      break;
    }
  }
}

struct OptimizerCase {
  Optimizer optimizer;
  double weight_decay;
};

class OptimizerFormulas : public ::testing::TestWithParam<OptimizerCase> {};

std::vector<double> random_vector(std::mt19937& engine, double scale) {
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<double> values(kCount);
  for (double& value : values) value = normal(engine);
  return values;
}

template <class T>
std::vector<T> run_reference(const OptimizerCase& c, const std::vector<double>& start,
                             const std::vector<std::vector<double>>& gradients) {
  TrainConfig config;
  config.optimizer = c.optimizer;
  config.weight_decay = c.weight_decay;
  config.momentum = 0.8;
  config.beta1 = 0.85;
  config.beta2 = 0.99;
  config.epsilon = 1e-6;
  std::vector<T> parameters(start.begin(), start.end()), first(kCount, T(0)), second(kCount, T(0));
  for (int step = 1; step <= kSteps; ++step) {
    const std::vector<T> g(gradients[step - 1].begin(), gradients[step - 1].end());
    const double lr = 0.05 / step;  // a changing rate, as a schedule gives
    ref::optimizer_update(ref::optimizer_step(config, lr, step), parameters.data(), g.data(), first.data(),
                          second.data(), kCount);
  }
  return parameters;
}

TEST_P(OptimizerFormulas, SeveralStepsMatchTheClosedForm) {
  const OptimizerCase c = GetParam();
  std::mt19937 engine(11);
  const std::vector<double> start = random_vector(engine, 1.0);
  std::vector<std::vector<double>> gradients;
  for (int step = 0; step < kSteps; ++step) gradients.push_back(random_vector(engine, 0.5));

  TrainConfig config;
  config.optimizer = c.optimizer;
  config.weight_decay = c.weight_decay;
  config.momentum = 0.8;
  config.beta1 = 0.85;
  config.beta2 = 0.99;
  config.epsilon = 1e-6;
  const std::vector<double> in_double = run_reference<double>(c, start, gradients);
  const std::vector<float> in_float = run_reference<float>(c, start, gradients);
  for (std::size_t k = 0; k < kCount; ++k) {
    ElementState element{start[k]};
    for (int step = 1; step <= kSteps; ++step)
      closed_form_step(c.optimizer, ref::optimizer_step(config, 0.05 / step, step), gradients[step - 1][k], element);
    // Double: the same arithmetic in another order, 1e-12. Float: a few roundings of 6e-8 on
    // values of order 1 over 5 steps, 1e-5.
    EXPECT_NEAR(in_double[k], element.parameter, 1e-12) << "element " << k;
    EXPECT_NEAR(in_float[k], element.parameter, 1e-5) << "element " << k;
    EXPECT_GT(std::abs(element.parameter - start[k]), 1e-4) << "the update must move the parameter";
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllOptimizers, OptimizerFormulas,
    ::testing::Values(OptimizerCase{Optimizer::sgd, 0.0}, OptimizerCase{Optimizer::sgd, 0.1},
                      OptimizerCase{Optimizer::momentum, 0.0}, OptimizerCase{Optimizer::momentum, 0.1},
                      OptimizerCase{Optimizer::nesterov, 0.0}, OptimizerCase{Optimizer::nesterov, 0.1},
                      OptimizerCase{Optimizer::adam, 0.0}, OptimizerCase{Optimizer::adam, 0.1},
                      OptimizerCase{Optimizer::adamw, 0.0}, OptimizerCase{Optimizer::adamw, 0.1}),
    [](const auto& info) {
      return std::string(to_string(info.param.optimizer)) + (info.param.weight_decay > 0 ? "_weight_decay" : "");
    });

TEST(OptimizerSlots, AdamFirstStepMovesEachParameterByTheLearningRate) {
  // With bias correction, step 1 gives m̂ = g and v̂ = g², so each parameter moves by lr·g/(|g| + ε).
  TrainConfig config;
  const std::vector<double> gradients = {0.3, -2.0, 1e-3};
  std::vector<double> parameters = {1.0, 1.0, 1.0}, m(3, 0.0), v(3, 0.0);
  ref::optimizer_update(ref::optimizer_step(config, 0.01, 1), parameters.data(), gradients.data(), m.data(), v.data(),
                        3);
  for (std::size_t k = 0; k < 3; ++k)
    EXPECT_NEAR(parameters[k], 1.0 - 0.01 * gradients[k] / (std::abs(gradients[k]) + 1e-8), 1e-15);
}

}  // namespace
}  // namespace mlptune
