// The hyperparameter tables: every setting of TrainConfig and of ModelSpec, once (nn/settings.cpp
// says how to add one), and the JSON form of both, which reads back to the same values.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "mlptune/model.hpp"
#include "mlptune/train_config.hpp"
#include "nn/setting.hpp"

namespace mlptune {

using TrainSetting = Setting<TrainConfig>;
using ModelSetting = Setting<ModelSpec>;

// In the order the reproducing command line and the JSON write them.
const std::vector<TrainSetting>& train_settings();
const std::vector<ModelSetting>& model_settings();

// The model `mlptune train` builds and a study starts from, before the data gives its widths:
// ModelSpec's defaults with one hidden layer of 256.
const ModelSpec& model_defaults();

// {"optimizer": "adam", "lr": 0.001, ...} and {"input_width": 64, "hidden": [256], ...}, by
// canonical name in table order.
nlohmann::ordered_json to_json(const TrainConfig& config);
nlohmann::ordered_json to_json(const ModelSpec& model);
// The keys given over the defaults, then validated. Throws ConfigError "KEY: requirement", naming
// the JSON key (a file's reader puts the file and the metadata entry before it).
TrainConfig train_config_from_json(const nlohmann::json& json);
ModelSpec model_from_json(const nlohmann::json& json);

}  // namespace mlptune
