// Every setting table entry a study searches is a study parameter, by its name and its aliases, and
// params_to_spec sets its field; the entries a study does not search are refused as parameters.
#include <gtest/gtest.h>

#include <algorithm>

#include "mlptune/tune/study.hpp"
#include "nn/settings.hpp"
#include "setting_values.hpp"

namespace mlptune::tune {
namespace {

TrialSpec base_spec() {
  TrialSpec spec;
  spec.model = model_defaults();
  spec.model.input_width = 4;
  spec.model.output_width = 3;
  return spec;
}

using testing::as_param;

bool is_tunable_name(std::string_view name) {
  const auto& names = tunable_parameter_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The spec params_to_spec makes from `name` set to the entry's other value, against the spec the
// entry's own set makes: the same.
template <class Owner>
void expect_parameters_set_their_field(const std::vector<Setting<Owner>>& table, Owner TrialSpec::*part) {
  for (const auto& setting : table) {
    SCOPED_TRACE(std::string(setting.name));
    if (!setting.is_parameter()) {
      EXPECT_EQ(canonical_parameter_name(setting.name), std::nullopt) << "a study does not search it";
      continue;
    }
    TrialSpec expected = base_spec();
    expected.*part = testing::with_other_value(setting, expected.*part);
    const ParamValue value = as_param(setting, setting.get(expected.*part));
    std::vector<std::string_view> names{setting.name};
    names.insert(names.end(), setting.aliases.begin(), setting.aliases.end());
    for (const std::string_view name : names) {
      EXPECT_TRUE(is_tunable_name(name)) << name;
      EXPECT_EQ(canonical_parameter_name(name), std::string(setting.name));
      EXPECT_NO_THROW(check_parameter_value(name, value)) << name;
      const TrialSpec spec = params_to_spec({{std::string(name), value}}, base_spec());
      EXPECT_EQ(spec.*part, expected.*part) << name;
    }
  }
}

TEST(SettingParameters, EverySearchedTrainEntryIsAStudyParameter) {
  expect_parameters_set_their_field(train_settings(), &TrialSpec::train);
}

TEST(SettingParameters, EverySearchedModelEntryIsAStudyParameter) {
  expect_parameters_set_their_field(model_settings(), &TrialSpec::model);
}

TEST(SettingParameters, TheListOfParametersNamesEachWithItsAliases) {
  const std::string list = tunable_parameter_list();
  const auto expect_listed = [&list](const auto& table) {
    for (const auto& setting : table) {
      if (!setting.is_parameter()) continue;
      std::string listed = std::string(setting.name);
      if (!setting.aliases.empty()) listed += " (or " + std::string(setting.aliases.front());
      EXPECT_NE(list.find(listed), std::string::npos) << listed << " in " << list;
    }
  };
  expect_listed(model_settings());
  expect_listed(train_settings());
}

}  // namespace
}  // namespace mlptune::tune
