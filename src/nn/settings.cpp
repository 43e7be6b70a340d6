// The hyperparameter tables: one entry per setting of TrainConfig and of ModelSpec.
//
// An entry gives a setting's canonical name (the study parameter and the JSON key; the flag is
// --name with dashes), its kind, its range, its --help text, who sets it (StudyRole) and the field
// it lives in. Everything else is derived from the entries: the `mlptune train` flags and their
// --help (cli/options.cpp), validation (TrainConfig::validate), the names a study accepts and
// params_to_spec (tune/params_to_spec.cpp), the `mlptune train` line that reproduces a trial, and
// JSON both ways (metrics files, the safetensors metadata, `mlptune summary MODEL.safetensors`).
// Defaults are the fields' own: TrainConfig's initialisers, and model_defaults() below.
//
// Adding a training hyperparameter, dropout or clip_norm say, takes:
//   1. its field with its default in TrainConfig (include/mlptune/train_config.hpp);
//   2. one entry below, where the reproducing line should write it, e.g.
//        real("clip_norm", &T::clip_norm, kNonNegative, "clip the gradients' norm to this (0: off)"),
//      or .set_by(not_searched) after it if a study should not search it (the line then leaves it out),
//      and .only_when("optimizer", {"momentum", "nesterov"}) if it acts only under some values of
//      another setting (a study then warns when it searches it while no trial can use it);
//   3. its math in each backend: the CPU trainer and its reference (src/cpu/; an optimizer constant
//      goes through ref::OptimizerStep), the CUDA trainer and kernels (src/cuda/, kernels/; the
//      DeviceTrial record when a kernel reads it).
// tests/nn/settings_test.cpp, tests/tune/settings_params_test.cpp and
// tests/cli/settings_flags_test.cpp cover every entry, the new one included.
#include "nn/settings.hpp"

#include "nn/enum_names.hpp"

namespace mlptune {
namespace {

using enum StudyRole;
using namespace setting_entry;

constexpr Range kPositive{0.0, false};
constexpr Range kNonNegative{0.0, true};
constexpr Range kFromZeroBelowOne{0.0, true, 1.0, false};
constexpr Range kAboveZeroUpToOne{0.0, false, 1.0, true};

}  // namespace

const std::vector<TrainSetting>& train_settings() {
  using T = TrainConfig;
  const std::vector<std::string_view> kAdams{"adam", "adamw"};
  static const std::vector<TrainSetting> table{
      choice("optimizer", &T::optimizer, detail::kOptimizerNames, "update rule: "),
      real("lr", &T::learning_rate, kPositive, "learning rate").also("learning_rate"),
      real("momentum", &T::momentum, kFromZeroBelowOne, "momentum, nesterov: momentum factor")
          .only_when("optimizer", {"momentum", "nesterov"}),
      real("beta1", &T::beta1, kFromZeroBelowOne, "adam, adamw: first-moment decay").only_when("optimizer", kAdams),
      real("beta2", &T::beta2, kFromZeroBelowOne, "adam, adamw: second-moment decay").only_when("optimizer", kAdams),
      real("epsilon", &T::epsilon, kPositive, "adam, adamw: denominator epsilon").only_when("optimizer", kAdams),
      real("weight_decay", &T::weight_decay, kNonNegative, "L2 penalty (decoupled for adamw)"),
      real("dropout", &T::dropout, kFromZeroBelowOne, "rate of inverted dropout after each hidden activation (0: off)"),
      real("clip_norm", &T::clip_norm, kNonNegative,
           "clip the gradients' global L2 norm to this before each update (0: off)"),
      choice("schedule", &T::schedule, detail::kScheduleNames, "learning-rate schedule: "),
      // Warm-up ramps the rate under every schedule, the constant one included: it always acts.
      real("warmup", &T::warmup_epochs, kNonNegative, "linear warm-up, in epochs (fractions allowed)"),
      count("step_epochs", &T::step_epochs, 1, "step schedule: epochs between decays").only_when("schedule", {"step"}),
      real("step_gamma", &T::step_gamma, kAboveZeroUpToOne, "step schedule: factor at each decay")
          .only_when("schedule", {"step"}),
      count("early_stopping", &T::early_stopping_patience, 0,
            "stop after this many epochs without a better validation loss (0: off)"),
      count("batch_size", &T::batch_size, 1, "samples per step (the last batch of an epoch may be smaller)"),
      count("epochs", &T::epochs, 1, "passes over the training split"),
      on_off("shuffle", &T::shuffle, "keep the data order every epoch").set_by(not_searched),
      seed("seed", &T::seed, "seed of initialisation and shuffling").set_by(per_trial),
      choice("precision", &T::precision, detail::kPrecisionNames, "matrix products: ", " (tf32: CUDA tensor cores)")
          .set_by(not_searched),
  };
  return table;
}

const std::vector<ModelSetting>& model_settings() {
  using M = ModelSpec;
  static const std::vector<ModelSetting> table{
      count("input_width", &M::input_width, 1, "features per sample").set_by(data_shape),
      widths("hidden", &M::hidden, "hidden layer widths, e.g. 256,256 (\"\" for none: linear/logistic regression)"),
      count("output_width", &M::output_width, 1, "classes, or regression targets").set_by(data_shape),
      choice("activation", &M::activation, detail::kActivationNames, "on the hidden layers: "),
      // A study takes the loss from the data's task, as `--loss auto` does.
      choice("loss", &M::loss, detail::kLossNames, "auto (cross-entropy for classes, mse for regression), ")
          .set_by(not_searched)
          .unset_as("auto"),
      choice("init", &M::init, detail::kInitNames, "initial weights, drawn from --seed: "),
  };
  return table;
}

const ModelSpec& model_defaults() {
  static const ModelSpec defaults = [] {
    ModelSpec model;
    model.hidden = {256};
    return model;
  }();
  return defaults;
}

nlohmann::ordered_json to_json(const TrainConfig& config) {
  return settings_to_json(train_settings(), config);
}

nlohmann::ordered_json to_json(const ModelSpec& model) {
  return settings_to_json(model_settings(), model);
}

TrainConfig train_config_from_json(const nlohmann::json& json) {
  TrainConfig config;
  settings_from_json(train_settings(), json, config);
  try {
    config.validate();
  } catch (const SettingError& error) {
    throw ConfigError(error.setting() + ": " + error.requirement());
  }
  return config;
}

ModelSpec model_from_json(const nlohmann::json& json) {
  ModelSpec model;
  settings_from_json(model_settings(), json, model);
  model.validate();
  return model;
}

}  // namespace mlptune
