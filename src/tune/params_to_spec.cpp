// Sampled params to trial settings, trial seeds, and the `mlptune train` line that reproduces a trial.
#include <optional>
#include <string>
#include <vector>

#include "common/counter_rng.hpp"
#include "common/shell_quote.hpp"
#include "common/size_limits.hpp"
#include "common/text_list.hpp"
#include "mlptune/error.hpp"
#include "mlptune/tune/study.hpp"
#include "nn/enum_names.hpp"
#include "nn/settings.hpp"
#include "tune/enum_names.hpp"
#include "tune/storage_json.hpp"

namespace mlptune::tune {
namespace {

constexpr std::uint64_t kTrialSeedStream = 0x545249414C534545ull;  // "TRIALSEE"

// depth and width are no fields of a model: together they are another way to write hidden (depth
// layers of width), and either alone keeps the base's other half, so they are applied after the
// settings, by apply_depth_and_width.
constexpr const char* kDepth = "depth";
constexpr const char* kWidth = "width";

// Sets the parameter's field from a sampled value; an unknown enum name ("unknown activation 'x':
// use ...") becomes the parameter's SettingError too. False for a name no setting answers to.
template <class Owner>
bool set_parameter(const std::vector<Setting<Owner>>& table, Owner& owner, std::string_view name,
                   const ParamValue& value) {
  const Setting<Owner>* setting = find_parameter(table, name);
  if (setting == nullptr) return false;
  try {
    setting->set(owner, param_value_to_json(value));
  } catch (const SettingError&) {
    throw;
  } catch (const ConfigError& error) {
    throw SettingError(std::string(setting->name), error.what());
  }
  return true;
}

// The settings a study parameter may set: the model's, then the training's, in table order.
const std::vector<const SettingInfo*>& parameter_settings() {
  static const std::vector<const SettingInfo*> settings = [] {
    std::vector<const SettingInfo*> all;
    const auto add = [&all](const auto& table) {
      for (const auto& setting : table)
        if (setting.is_parameter()) all.push_back(&setting);
    };
    add(model_settings());
    add(train_settings());
    return all;
  }();
  return settings;
}

std::optional<std::string_view> canonical_of(std::string_view name) {
  if (name == kDepth || name == kWidth) return name;
  for (const SettingInfo* setting : parameter_settings())
    if (setting->answers_to(name)) return setting->name;
  return std::nullopt;
}

// "depth, width, hidden, activation, ..., lr (or learning_rate), ...": each parameter once, with its aliases.
std::string parameter_list() {
  const auto described = [](const SettingInfo* setting) {
    return std::string(setting->name) + (setting->aliases.empty() ? "" : " (or " + join(setting->aliases, ", ") + ")");
  };
  return std::string(kDepth) + ", " + std::string(kWidth) + ", " + join(parameter_settings(), ", ", described);
}

std::string unknown_parameter_message(const std::string& name) {
  return "parameter '" + name + "' sets nothing a trial uses; rename it to one of: " + parameter_list();
}

int whole_parameter(std::string_view name, const ParamValue& value) {
  return setting_value::count(name, param_value_to_json(value));
}

// A depth or width value on its own: a whole number of layers up to kMaxHiddenLayers, or of units
// >= 1. Whether the model they make is too large depends on the other one (and the data).
int checked_depth_or_width(std::string_view name, const ParamValue& value) {
  const int number = whole_parameter(name, value);
  if (name == kDepth && (number < 0 || number > kMaxHiddenLayers))
    throw SettingError(std::string(kDepth), "must be a number of hidden layers in [0, " +
                                                std::to_string(kMaxHiddenLayers) + "] (got " + std::to_string(number) +
                                                ")");
  if (name == kWidth && number < 1)
    throw SettingError(std::string(kWidth), "must be >= 1 (got " + std::to_string(number) + ")");
  return number;
}

// depth and width together shape the hidden layers; either alone keeps the base's other half.
void apply_depth_and_width(const Params& params, TrialSpec& spec) {
  const auto depth = params.find(kDepth);
  const auto width = params.find(kWidth);
  if (depth == params.end() && width == params.end()) return;
  if (params.count("hidden"))
    throw SettingError("hidden", "and depth/width both set the hidden layers; search one of them, not both");
  const std::vector<int>& base = spec.model.hidden.empty() ? model_defaults().hidden : spec.model.hidden;
  const int layers = depth != params.end() ? checked_depth_or_width(kDepth, depth->second) : int(base.size());
  const int units = width != params.end() ? checked_depth_or_width(kWidth, width->second) : base.front();
  spec.model.hidden.assign(std::size_t(layers), units);
}

// params_to_spec, with every bad value a SettingError under the parameter's canonical name.
TrialSpec apply_params(const Params& params, const TrialSpec& base) {
  TrialSpec spec = base;
  for (const auto& [name, value] : params) {
    if (name == kDepth || name == kWidth) continue;
    if (!set_parameter(model_settings(), spec.model, name, value) &&
        !set_parameter(train_settings(), spec.train, name, value))
      throw ConfigError(unknown_parameter_message(name));
  }
  apply_depth_and_width(params, spec);
  spec.model.validate();
  spec.train.validate();
  return spec;
}

// " --lr 0.001" for each setting the line writes (an on_off setting only when off: " --no-shuffle").
template <class Owner>
void append_flags(std::string& line, const std::vector<Setting<Owner>>& table, const Owner& owner) {
  for (const auto& setting : table) {
    const bool valueless = setting.kind == SettingKind::on_off;
    if (!setting.in_command_line() || (valueless && setting.get(owner).template get<bool>())) continue;
    line += ' ';  // appended piece by piece: GCC 12 warns falsely on " " + text (-Wrestrict, bug 105329)
    line += setting.flag();
    if (!valueless) line += ' ' + shell_quoted(setting.text_of(owner));
  }
}

}  // namespace

std::uint64_t trial_seed(std::uint64_t study_seed, int number) {
  return rng::hash(study_seed, kTrialSeedStream, std::uint64_t(number));
}

const std::vector<std::string_view>& tunable_parameter_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> all{kDepth, kWidth};
    for (const SettingInfo* setting : parameter_settings()) all.push_back(setting->name);
    for (const SettingInfo* setting : parameter_settings())
      all.insert(all.end(), setting->aliases.begin(), setting->aliases.end());
    return all;
  }();
  return names;
}

std::optional<std::string> canonical_parameter_name(std::string_view name) {
  if (const auto canonical = canonical_of(name)) return std::string(*canonical);
  return std::nullopt;
}

std::string tunable_parameter_list() {
  return parameter_list();
}

void check_tunable(const SearchSpace& space) {
  for (const auto& parameter : space.parameters)
    if (!canonical_of(parameter.name))
      throw ConfigError(unknown_parameter_message(parameter.name) + " (line " + std::to_string(parameter.line) + ")");
}

void check_parameter_value(std::string_view name, const ParamValue& value) {
  // depth and width alone: the model they make is checked with the other's values (and the default
  // width or depth where only one is searched), by the study config.
  if (name == kDepth || name == kWidth) {
    checked_depth_or_width(name, value);
    return;
  }
  // The smallest model of any data (one input, one output) with the default hidden layer: a value
  // refused here is refused for every data set.
  TrialSpec probe;
  probe.model.input_width = 1;
  probe.model.output_width = 1;
  probe.model.loss = Loss::mse;
  probe.model.hidden = model_defaults().hidden;
  const std::string parameter(name);
  try {
    apply_params({{parameter, value}}, probe);
  } catch (const SettingError&) {
    throw;
  } catch (const ConfigError& error) {  // the model as a whole: too many parameters, say
    throw SettingError(canonical_parameter_name(parameter).value_or(parameter), error.what());
  }
}

bool takes_whole_numbers(std::string_view name) {
  if (name == kDepth || name == kWidth) return true;
  const auto is_count = [name](const auto& table) {
    const auto* setting = find_parameter(table, name);
    return setting != nullptr && setting->kind == SettingKind::count;
  };
  return is_count(model_settings()) || is_count(train_settings());
}

TrialSpec params_to_spec(const Params& params, const TrialSpec& base) {
  try {
    return apply_params(params, base);
  } catch (const SettingError& error) {
    throw ConfigError("parameters." + error.setting() + ": " + error.requirement() +
                      ", a value the study drew for a trial; narrow the distribution so that every value it draws "
                      "is valid");
  }
}

TrialSpec default_trial_spec(const DataSplits& data) {
  TrialSpec spec;
  spec.model = model_defaults();
  spec.model.input_width = int(data.train.cols);
  spec.model.output_width = data.train.output_width();
  spec.model.loss = data.train.task == Task::classification ? Loss::softmax_cross_entropy : Loss::mse;
  return spec;
}

std::string train_command_line(const TrialSpec& spec, const DataSpec& data, BackendKind backend) {
  std::string line = "mlptune train";
  auto flag = [&line](std::string_view name, const std::string& value) {
    line += " --" + std::string(name) + " " + shell_quoted(value);
  };
  if (data.path.empty()) {
    flag("dataset", data.dataset);
  } else {
    flag("data", data.path);
    if (!data.test_path.empty()) flag("test-data", data.test_path);
    if (!data.label_column.empty()) flag("label-column", data.label_column);
    if (data.task != DataSpec{}.task) flag("task", std::string(detail::kTaskNames.name_of(data.task)));
  }
  append_flags(line, model_settings(), spec.model);
  append_flags(line, train_settings(), spec.train);
  flag("backend", std::string(to_string(backend)));
  return line;
}

MetricKind parse_metric(std::string_view name) {
  return kMetricNames.parse(name);
}

std::string_view to_string(MetricKind metric) {
  return kMetricNames.name_of(metric);
}

double metric_value(const EpochReport& report, MetricKind metric) {
  switch (metric) {
    case MetricKind::validation_loss:
      return report.validation.loss;
    case MetricKind::validation_accuracy:
      return report.validation.accuracy;
    case MetricKind::validation_rmse:
      return report.validation.rmse;
    case MetricKind::train_loss:
      return report.train_loss;
  }
  return report.validation.loss;
}

}  // namespace mlptune::tune
