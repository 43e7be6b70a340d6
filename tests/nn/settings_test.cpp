// The setting tables, entry by entry: JSON both ways, the flag text both ways, a field per entry,
// validation naming each entry, and what the JSON readers refuse.
#include "nn/settings.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "mlptune/error.hpp"
#include "setting_values.hpp"
#include "thrown_message.hpp"

namespace mlptune {
namespace {

using testing::other_value;
using testing::with_other_value;

// The smallest valid model of each table's defaults: iris's 4 features and 3 classes.
ModelSpec base_model() {
  ModelSpec model = model_defaults();
  model.input_width = 4;
  model.output_width = 3;
  return model;
}

template <class Owner>
void expect_json_round_trip(const std::vector<Setting<Owner>>& table, const Owner& base,
                            Owner (*from_json)(const nlohmann::json&)) {
  for (const auto& setting : table) {
    SCOPED_TRACE(std::string(setting.name));
    const Owner changed = with_other_value(setting, base);
    ASSERT_NE(changed, base) << "the entry's value reaches no field";
    EXPECT_EQ(from_json(nlohmann::json(to_json(changed))), changed);
    EXPECT_EQ(from_json(nlohmann::json::parse(to_json(changed).dump())), changed) << "through the text files hold";
  }
}

TEST(Settings, EveryTrainEntryRoundTripsThroughJson) {
  expect_json_round_trip(train_settings(), TrainConfig{}, &train_config_from_json);
}

TEST(Settings, EveryModelEntryRoundTripsThroughJson) {
  expect_json_round_trip(model_settings(), base_model(), &model_from_json);
}

template <class Owner>
void expect_a_field_per_entry(const std::vector<Setting<Owner>>& table, const Owner& base) {
  for (const auto& changed : table) {
    const Owner owner = with_other_value(changed, base);
    for (const auto& other : table)
      if (&other != &changed)
        EXPECT_EQ(other.get(owner), other.get(base)) << changed.name << " also changes " << other.name;
  }
}

TEST(Settings, EachEntryHasAFieldOfItsOwn) {
  expect_a_field_per_entry(train_settings(), TrainConfig{});
  expect_a_field_per_entry(model_settings(), base_model());
}

template <class Owner>
void expect_text_round_trip(const std::vector<Setting<Owner>>& table, const Owner& base) {
  for (const auto& setting : table) {
    const Owner changed = with_other_value(setting, base);
    Owner read = base;
    setting.set(read, nlohmann::json(setting.text_of(changed)));
    EXPECT_EQ(read, changed) << setting.name << " written as " << setting.text_of(changed);
  }
}

TEST(Settings, EveryValueReadsBackFromTheTextAFlagTakes) {
  expect_text_round_trip(train_settings(), TrainConfig{});
  expect_text_round_trip(model_settings(), base_model());
}

TEST(Settings, NoNameOrAliasIsTakenTwice) {
  // params_to_spec and JSON find an entry by any of its names, in either table.
  std::set<std::string_view> names;
  const auto take = [&names](const auto& table) {
    for (const auto& setting : table) {
      EXPECT_TRUE(names.insert(setting.name).second) << setting.name;
      for (const auto alias : setting.aliases) EXPECT_TRUE(names.insert(alias).second) << alias;
    }
  };
  take(train_settings());
  take(model_settings());
}

// An entry that acts only under some values of another names a choice entry of its table, by
// canonical name, and values that entry takes.
template <class Owner>
void expect_active_when_names_a_choice(const std::vector<Setting<Owner>>& table) {
  for (const auto& setting : table) {
    if (setting.active_when.always()) continue;
    const Setting<Owner>* deciding = find_setting(table, setting.active_when.setting);
    ASSERT_NE(deciding, nullptr) << setting.name;
    EXPECT_EQ(deciding->name, setting.active_when.setting) << setting.name;
    EXPECT_EQ(deciding->kind, SettingKind::choice) << setting.name;
    ASSERT_FALSE(setting.active_when.values.empty()) << setting.name;
    for (std::string_view value : setting.active_when.values)
      EXPECT_NE(std::find(deciding->names.begin(), deciding->names.end(), value), deciding->names.end())
          << setting.name << ": " << value;
  }
}

TEST(Settings, ConditionsNameAChoiceAndValuesItTakes) {
  expect_active_when_names_a_choice(train_settings());
  expect_active_when_names_a_choice(model_settings());
  EXPECT_EQ(find_setting(train_settings(), "momentum")->active_when.values,
            (std::vector<std::string_view>{"momentum", "nesterov"}));
  EXPECT_TRUE(find_setting(train_settings(), "warmup")->active_when.always()) << "warm-up acts under every schedule";
}

TEST(Settings, ValidationNamesEachEntryOutsideItsRange) {
  for (const TrainSetting& setting : train_settings()) {
    if (setting.kind != SettingKind::real && setting.kind != SettingKind::count) continue;
    TrainConfig config;
    const nlohmann::json outside =
        setting.kind == SettingKind::real ? nlohmann::json(std::nan("")) : nlohmann::json(setting.minimum - 1);
    setting.set(config, outside);
    try {
      config.validate();
      ADD_FAILURE() << setting.name << " accepted " << outside.dump();
    } catch (const SettingError& error) {
      EXPECT_EQ(error.setting(), setting.name);
      EXPECT_EQ(std::string(error.what()).rfind(setting.flag() + " must be ", 0), 0u) << error.what();
    }
  }
}

TEST(Settings, TrainJsonKeepsTheDefaultsOfMissingKeys) {
  const TrainConfig config = train_config_from_json({{"lr", 0.01}, {"epochs", 3}});
  TrainConfig expected;
  expected.learning_rate = 0.01;
  expected.epochs = 3;
  EXPECT_EQ(config, expected);
}

TEST(Settings, TrainJsonRefusesWhatWouldNotTrainNamingTheKey) {
  using testing::thrown_message;
  EXPECT_EQ(thrown_message<ConfigError>([] {
              train_config_from_json({{"lr", -1}});
            }),
            "lr: must be > 0 and finite (got -1)");
  EXPECT_EQ(thrown_message<ConfigError>([] {
              train_config_from_json({{"lr", "fast"}});
            }),
            "lr: must be a number (got 'fast')");
  EXPECT_EQ(thrown_message<ConfigError>([] {
              train_config_from_json({{"batch_size", 12.5}});
            }),
            "batch_size: must be a whole number (got 12.5)");
  EXPECT_EQ(thrown_message<ConfigError>([] {
              train_config_from_json({{"optimizer", "adagrad"}});
            }),
            "unknown optimizer 'adagrad': use sgd, momentum, nesterov, adam or adamw");
  const std::string unknown = thrown_message<ConfigError>([] { train_config_from_json({{"label_smoothing", 0.1}}); });
  EXPECT_EQ(unknown.rfind("label_smoothing: unknown setting; known: optimizer, lr, momentum", 0), 0u) << unknown;
  EXPECT_THROW(train_config_from_json(nlohmann::json::array()), ConfigError);
}

TEST(Settings, ModelJsonRefusesWidthsBelowOne) {
  EXPECT_EQ(testing::thrown_message<ConfigError>([] {
              model_from_json({{"input_width", 4}, {"hidden", {8, 0}}, {"output_width", 3}});
            }),
            "hidden: must be widths >= 1 separated by commas, e.g. \"256,128\" (got [8,0])");
}

TEST(Settings, TheSeedKeepsAll64Bits) {
  TrainConfig config;
  config.seed = 18446744073709551615ull;
  EXPECT_EQ(train_config_from_json(nlohmann::json::parse(to_json(config).dump())).seed, config.seed);
  EXPECT_THROW(train_config_from_json({{"seed", -1}}), ConfigError);
  EXPECT_THROW(train_config_from_json({{"seed", 1.5}}), ConfigError);
}

}  // namespace
}  // namespace mlptune
