// The suite every sampler passes (grid, random, Sobol, TPE): bounds and types, log scales, integers,
// categorical choices and probabilities, determinism for a seed, different seeds differ.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "sampler_test_support.hpp"

namespace mlptune::tune {
namespace {

using testing::as_number;

class SamplerSuite : public ::testing::TestWithParam<Method> {
 protected:
  bool is_grid() const { return GetParam() == Method::grid; }
  SearchSpace space() const { return is_grid() ? testing::grid_space() : testing::every_kind_space(); }
  std::unique_ptr<Sampler> sampler(std::uint64_t seed) const {
    SamplerOptions options;
    options.seed = seed;
    return make_sampler(GetParam(), options);
  }
  // Enough trials to pass TPE's start-up; a grid stops at its size.
  std::vector<FrozenTrial> run(std::uint64_t seed, int trials = 60) const {
    const SearchSpace searched = space();
    auto chosen = sampler(seed);
    if (is_grid()) trials = static_cast<int>(std::min<std::int64_t>(trials, chosen->size(searched)));
    return testing::run_study(*chosen, searched, testing::wavy_objective, trials);
  }
};

// The value range each kind can produce, worked out from the W&B definitions.
std::pair<double, double> value_bounds(const Distribution& d) {
  switch (d.kind) {
    case DistributionKind::log_uniform:
    case DistributionKind::q_log_uniform:
      return {std::exp(d.min), std::exp(d.max)};
    case DistributionKind::inv_log_uniform:
      return {std::exp(-d.max), std::exp(-d.min)};
    case DistributionKind::normal:
    case DistributionKind::q_normal:
      return {-INFINITY, INFINITY};
    case DistributionKind::log_normal:
    case DistributionKind::q_log_normal:
      return {0.0, INFINITY};
    case DistributionKind::beta:
    case DistributionKind::q_beta:
      return {0.0, 1.0};
    default:
      return {d.min, d.max};
  }
}

bool is_multiple(double value, double q) {
  const double ratio = value / q;
  return std::abs(ratio - std::round(ratio)) < 1e-6;
}

void expect_valid(const ParameterSpec& parameter, const ParamValue& value) {
  const Distribution& d = parameter.distribution;
  SCOPED_TRACE(parameter.name + " = " + to_string(value));
  if (d.kind == DistributionKind::constant || d.kind == DistributionKind::categorical) {
    EXPECT_NE(std::find(d.values.begin(), d.values.end(), value), d.values.end());
    return;
  }
  EXPECT_EQ(std::holds_alternative<std::int64_t>(value), d.integer);
  EXPECT_TRUE(std::holds_alternative<std::int64_t>(value) || std::holds_alternative<double>(value));
  const double number = as_number(value);
  const auto [low, high] = value_bounds(d);
  EXPECT_TRUE(std::isfinite(number));
  EXPECT_GE(number, low * (1 - 1e-12));
  EXPECT_LE(number, high * (1 + 1e-12));
  if (d.kind == DistributionKind::q_uniform || d.kind == DistributionKind::q_log_uniform ||
      d.kind == DistributionKind::q_log_uniform_values || d.kind == DistributionKind::q_normal ||
      d.kind == DistributionKind::q_log_normal || d.kind == DistributionKind::q_beta) {
    EXPECT_TRUE(is_multiple(number, d.q));
  }
}

TEST_P(SamplerSuite, ValuesAreWithinBoundsAndOfTheRightType) {
  const SearchSpace searched = space();
  for (const auto& trial : run(1)) {
    ASSERT_EQ(trial.params.size(), searched.parameters.size());
    for (const auto& parameter : searched.parameters) expect_valid(parameter, trial.params.at(parameter.name));
  }
}

TEST_P(SamplerSuite, IntegersAreIntegers) {
  for (const auto& trial : run(2)) {
    EXPECT_TRUE(std::holds_alternative<std::int64_t>(trial.params.at("depth")));
    EXPECT_TRUE(std::holds_alternative<std::int64_t>(trial.params.at("width")));
  }
}

TEST_P(SamplerSuite, LogScalesCoverDecades) {
  if (is_grid()) GTEST_SKIP() << "a grid holds no log-scale range";
  std::map<int, int> per_decade;  // lr is log-uniform on [1e-5, 1e-1]: four decades
  const auto trials = run(3, 80);
  for (const auto& trial : trials)
    ++per_decade[static_cast<int>(std::floor(std::log10(as_number(trial.params.at("lr")))))];
  for (int decade = -5; decade <= -2; ++decade) EXPECT_GE(per_decade[decade], 4) << "decade 1e" << decade;
}

TEST_P(SamplerSuite, CategoricalValuesAreAmongTheChoices) {
  const SearchSpace searched = space();
  const auto& choices = searched.find("batch_size")->distribution.values;
  std::map<std::string, int> seen;
  for (const auto& trial : run(4)) {
    const ParamValue& value = trial.params.at("batch_size");
    EXPECT_NE(std::find(choices.begin(), choices.end(), value), choices.end());
    ++seen[to_string(value)];
  }
  EXPECT_GE(seen.size(), 2u);
}

TEST_P(SamplerSuite, CategoricalFrequenciesFollowProbabilities) {
  if (GetParam() != Method::random && GetParam() != Method::sobol)
    GTEST_SKIP() << "only prior samplers draw choices with the given probabilities";
  const SearchSpace searched = space();
  auto chosen = sampler(5);
  constexpr int kTrials = 2000;
  std::map<std::int64_t, int> counts;
  for (int number = 0; number < kTrials; ++number)
    ++counts[std::get<std::int64_t>(chosen->sample(searched, {}, Goal::minimize, number).at("batch_size"))];
  const std::map<std::int64_t, double> expected{{32, 0.1}, {64, 0.2}, {128, 0.3}, {256, 0.4}};
  // Binomial standard deviation at p = 0.4 over 2000 draws is 0.011; 0.04 is over 3.5 of them.
  for (const auto& [choice, probability] : expected)
    EXPECT_NEAR(counts[choice] / double(kTrials), probability, 0.04) << "batch_size " << choice;
}

TEST_P(SamplerSuite, SameSeedAndHistoryGiveTheSameTrials) {
  const auto first = run(6);
  const auto second = run(6);
  ASSERT_EQ(first.size(), second.size());
  for (std::size_t i = 0; i < first.size(); ++i) EXPECT_EQ(first[i].params, second[i].params) << "trial " << i;
}

TEST_P(SamplerSuite, DifferentSeedsDiffer) {
  if (is_grid()) GTEST_SKIP() << "a grid's order does not depend on the seed";
  const auto first = run(7);
  const auto second = run(8);
  int differing = 0;
  for (std::size_t i = 0; i < first.size(); ++i) differing += first[i].params != second[i].params;
  EXPECT_EQ(differing, static_cast<int>(first.size()));
}

INSTANTIATE_TEST_SUITE_P(EverySampler, SamplerSuite,
                         ::testing::Values(Method::grid, Method::random, Method::sobol, Method::bayes),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace mlptune::tune
