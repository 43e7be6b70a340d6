// Warnings of searched parameters that no trial can use, derived from the settings' conditions.
#include "tune/inert_parameters.hpp"

#include <gtest/gtest.h>

namespace mlptune::tune {
namespace {

Distribution values(std::vector<ParamValue> choices) {
  Distribution distribution;
  distribution.kind = choices.size() == 1 ? DistributionKind::constant : DistributionKind::categorical;
  distribution.values = std::move(choices);
  return distribution;
}

Distribution uniform(double low, double high) {
  Distribution distribution;
  distribution.kind = DistributionKind::uniform;
  distribution.min = low;
  distribution.max = high;
  return distribution;
}

TEST(InertParameters, MomentumUnderTheDefaultAdamIsNamedWithTheOptimizer) {
  const SearchSpace space{{{"momentum", uniform(0.5, 0.99), 7}}};
  const auto warnings = inert_parameter_warnings(space, TrialSpec{});
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(
      warnings[0],
      "parameters.momentum (line 7) has no effect: every trial uses optimizer adam, and momentum acts only "
      "with optimizer momentum or nesterov; add one of those to parameters.optimizer, or remove parameters.momentum");
}

TEST(InertParameters, ASearchedOptimizerThatCanActivateItSilencesTheWarning) {
  const SearchSpace space{
      {{"optimizer", values({std::string("adam"), std::string("nesterov")}), 3}, {"momentum", uniform(0.5, 0.99), 4}}};
  EXPECT_TRUE(inert_parameter_warnings(space, TrialSpec{}).empty());
}

TEST(InertParameters, AdamConstantsUnderSgdAndStepSettingsUnderAnotherScheduleAreNamed) {
  const SearchSpace space{{{"optimizer", values({std::string("sgd")}), 3},
                           {"beta1", uniform(0.8, 0.95), 4},
                           {"schedule", values({std::string("constant"), std::string("cosine")}), 5},
                           {"step_gamma", uniform(0.1, 0.9), 6},
                           {"warmup", uniform(0.0, 2.0), 7},
                           {"learning_rate", uniform(0.001, 0.1), 8}}};
  const auto warnings = inert_parameter_warnings(space, TrialSpec{});
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("parameters.beta1 (line 4) has no effect: every trial uses optimizer sgd, and beta1 acts "
                             "only with optimizer adam or adamw"),
            std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[1].find("parameters.step_gamma (line 6) has no effect: every trial uses schedule constant or "
                             "cosine, and step_gamma acts only with schedule step"),
            std::string::npos)
      << warnings[1];
}

TEST(InertParameters, TheBaseValueDecidesWhenTheSettingIsNotSearched) {
  TrialSpec base;
  base.train.optimizer = Optimizer::momentum;
  EXPECT_TRUE(inert_parameter_warnings({{{"momentum", uniform(0.5, 0.99), 4}}}, base).empty());
}

}  // namespace
}  // namespace mlptune::tune
