// Sampled params to trial settings, trial seeds, and the `mlptune train` line that reproduces a trial.
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <utility>

#include "common/counter_rng.hpp"
#include "common/number_text.hpp"
#include "mlptune/error.hpp"
#include "mlptune/tune/study.hpp"
#include "nn/name_table.hpp"

namespace mlptune::tune {
namespace {

constexpr std::uint64_t kTrialSeedStream = 0x545249414C534545ull;  // "TRIALSEE"

// What the engine reports, each with the other names a config may use ("loss" is the validation
// loss, the one a study should watch).
constexpr detail::NameTable<MetricKind, 10> kMetricNames{"metric",
                                                         {{{MetricKind::validation_loss, "validation_loss"},
                                                           {MetricKind::validation_loss, "val_loss"},
                                                           {MetricKind::validation_loss, "loss"},
                                                           {MetricKind::validation_accuracy, "validation_accuracy"},
                                                           {MetricKind::validation_accuracy, "val_accuracy"},
                                                           {MetricKind::validation_accuracy, "accuracy"},
                                                           {MetricKind::validation_rmse, "validation_rmse"},
                                                           {MetricKind::validation_rmse, "val_rmse"},
                                                           {MetricKind::validation_rmse, "rmse"},
                                                           {MetricKind::train_loss, "train_loss"}}}};

std::string describe(const ParamValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return "'" + *text + "'";
  return to_string(value);
}

// Every failure below is a SettingError under the parameter's canonical name: a study config
// reports it at the parameter's YAML key, params_to_spec as "parameters.NAME: ...".
double as_number(const std::string& name, const ParamValue& value) {
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return double(*integer);
  if (const auto* real = std::get_if<double>(&value)) return *real;
  const std::string& text = std::get<std::string>(value);
  double parsed = 0.0;
  const auto [rest, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (error == std::errc() && rest == text.data() + text.size()) return parsed;
  throw SettingError(name, "must be a number (got " + describe(value) + ")");
}

int as_int(const std::string& name, const ParamValue& value) {
  const double number = as_number(name, value);
  if (number != std::floor(number))
    throw SettingError(name, "must be a whole number (got " + describe(value) + "); use int_uniform or integer values");
  // A sampled value outside int's range (a log_normal tail, say) must not reach the conversion.
  if (number < double(std::numeric_limits<int>::min()) || number > double(std::numeric_limits<int>::max()))
    throw SettingError(name, "must be a whole number in [" + std::to_string(std::numeric_limits<int>::min()) + ", " +
                                 std::to_string(std::numeric_limits<int>::max()) + "] (got " + describe(value) +
                                 "); narrow the range");
  return int(number);
}

std::string as_text(const std::string& name, const ParamValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return std::to_string(*integer);
  throw SettingError(name, "must be a name such as relu or adam (got " + describe(value) + ")");
}

std::vector<int> parse_widths(const std::string& name, const std::string& text) {
  std::vector<int> widths;
  if (text.empty() || text == "none") return widths;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    int width = 0;
    const auto [rest, error] = std::from_chars(text.data() + begin, text.data() + end, width);
    if (error != std::errc() || rest != text.data() + end || width < 1)
      throw SettingError(name, "must be widths >= 1 separated by commas, e.g. \"256,128\" (got '" + text + "')");
    widths.push_back(width);
    begin = end + 1;
  }
  return widths;
}

using Setter = std::function<void(TrialSpec&, const std::string&, const ParamValue&)>;

// By canonical name; kParameterAliases lists the other names a study config may use.
const std::map<std::string, Setter, std::less<>>& setters() {
  // One row per parameter reads best.
  // clang-format off
  static const std::map<std::string, Setter, std::less<>> table = {
      {"lr", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.learning_rate = as_number(n, v); }},
      {"batch_size", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.batch_size = as_int(n, v); }},
      {"epochs", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.epochs = as_int(n, v); }},
      {"activation", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.model.activation = parse_activation(as_text(n, v)); }},
      {"optimizer", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.optimizer = parse_optimizer(as_text(n, v)); }},
      {"momentum", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.momentum = as_number(n, v); }},
      {"beta1", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.beta1 = as_number(n, v); }},
      {"beta2", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.beta2 = as_number(n, v); }},
      {"epsilon", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.epsilon = as_number(n, v); }},
      {"weight_decay", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.weight_decay = as_number(n, v); }},
      {"schedule", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.schedule = parse_schedule(as_text(n, v)); }},
      {"warmup", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.warmup_epochs = as_number(n, v); }},
      {"step_epochs", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.step_epochs = as_int(n, v); }},
      {"step_gamma", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.step_gamma = as_number(n, v); }},
      {"init", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.model.init = parse_init(as_text(n, v)); }},
      {"early_stopping", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.early_stopping_patience = as_int(n, v); }},
      {"hidden", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.model.hidden = parse_widths(n, as_text(n, v)); }},
  };
  // clang-format on
  return table;
}

// Other names for a parameter (alias, canonical name).
constexpr std::array<std::pair<std::string_view, std::string_view>, 1> kParameterAliases{{{"learning_rate", "lr"}}};

// Applies one setter; an unknown enum name ("unknown activation 'x': use ...") becomes the parameter's error too.
void apply(TrialSpec& spec, const Setter& setter, const std::string& name, const ParamValue& value) {
  try {
    setter(spec, name, value);
  } catch (const SettingError&) {
    throw;
  } catch (const ConfigError& error) {
    throw SettingError(name, error.what());
  }
}

// depth and width together shape the hidden layers; either alone keeps the base's other half.
void apply_depth_and_width(const Params& params, TrialSpec& spec) {
  const auto depth = params.find("depth");
  const auto width = params.find("width");
  if (depth == params.end() && width == params.end()) return;
  if (params.count("hidden"))
    throw SettingError("hidden", "and depth/width both set the hidden layers; search one of them, not both");
  const int layers = depth != params.end() ? as_int("depth", depth->second) : std::max<int>(1, int(spec.model.hidden.size()));
  const int units = width != params.end() ? as_int("width", width->second)
                                          : (spec.model.hidden.empty() ? 256 : spec.model.hidden.front());
  if (layers < 0) throw SettingError("depth", "must be >= 0 (got " + std::to_string(layers) + ")");
  if (units < 1) throw SettingError("width", "must be >= 1 (got " + std::to_string(units) + ")");
  spec.model.hidden.assign(std::size_t(layers), units);
}

std::optional<std::string_view> canonical_of(std::string_view name) {
  for (const auto& [alias, canonical] : kParameterAliases)
    if (alias == name) return canonical;
  if (name == "depth" || name == "width" || setters().count(name)) return name;
  return std::nullopt;
}

// "depth, width, activation, ..., lr (or learning_rate), ...": each parameter once, with its aliases.
std::string parameter_list() {
  std::string list = "depth, width";
  for (const auto& [name, setter] : setters()) {
    list += ", " + name;
    std::string aliases;
    for (const auto& [alias, canonical] : kParameterAliases)
      if (canonical == name) aliases += (aliases.empty() ? "" : ", ") + std::string(alias);
    if (!aliases.empty()) list += " (or " + aliases + ")";
  }
  return list;
}

std::string unknown_parameter_message(const std::string& name) {
  return "parameter '" + name + "' sets nothing a trial uses; rename it to one of: " + parameter_list();
}

// params_to_spec, with every bad value a SettingError under the parameter's canonical name.
TrialSpec apply_params(const Params& params, const TrialSpec& base) {
  TrialSpec spec = base;
  for (const auto& [name, value] : params) {
    const auto canonical = canonical_of(name);
    if (!canonical) throw ConfigError(unknown_parameter_message(name));
    if (*canonical == "depth" || *canonical == "width") continue;
    apply(spec, setters().find(*canonical)->second, std::string(*canonical), value);
  }
  apply_depth_and_width(params, spec);
  spec.model.validate();
  spec.train.validate();
  return spec;
}

std::string quoted_if_needed(const std::string& text) {
  if (!text.empty() && text.find_first_of(" \t'\"\\$`*?;&|<>()") == std::string::npos) return text;
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string hidden_text(const std::vector<int>& hidden) {
  std::string text;
  for (int width : hidden) {
    if (!text.empty()) text += ',';
    text += std::to_string(width);
  }
  return text;
}

}  // namespace

std::uint64_t trial_seed(std::uint64_t study_seed, int number) {
  return rng::hash(study_seed, kTrialSeedStream, std::uint64_t(number));
}

const std::vector<std::string_view>& tunable_parameter_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> all{"depth", "width"};
    for (const auto& [name, setter] : setters()) all.push_back(name);
    for (const auto& [alias, canonical] : kParameterAliases) all.push_back(alias);
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
  // The smallest model of any data (one input, one output) with the default hidden layer: a value
  // refused here is refused for every data set.
  TrialSpec probe;
  probe.model.input_width = 1;
  probe.model.output_width = 1;
  probe.model.loss = Loss::mse;
  probe.model.hidden = {256};
  const std::string parameter(name);
  try {
    apply_params({{parameter, value}}, probe);
  } catch (const SettingError&) {
    throw;
  } catch (const ConfigError& error) {  // the model as a whole: too many parameters, say
    throw SettingError(canonical_parameter_name(parameter).value_or(parameter), error.what());
  }
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
  spec.model.input_width = int(data.train.cols);
  spec.model.output_width = data.train.output_width();
  spec.model.loss = data.train.task == Task::classification ? Loss::softmax_cross_entropy : Loss::mse;
  spec.model.hidden = {256};  // `mlptune train --hidden` default
  return spec;
}

std::string train_command_line(const TrialSpec& spec, const DataSource& data, BackendKind backend) {
  const TrainConfig& train = spec.train;
  std::string line = "mlptune train";
  auto flag = [&line](std::string_view name, const std::string& value) {
    line += " --" + std::string(name) + " " + quoted_if_needed(value);
  };
  if (data.data_path.empty()) {
    flag("dataset", data.dataset);
  } else {
    flag("data", data.data_path);
    if (!data.label_column.empty()) flag("label-column", data.label_column);
  }
  flag("hidden", hidden_text(spec.model.hidden));
  flag("activation", std::string(to_string(spec.model.activation)));
  flag("init", std::string(to_string(spec.model.init)));
  flag("optimizer", std::string(to_string(train.optimizer)));
  flag("lr", shortest_text(train.learning_rate));
  flag("momentum", shortest_text(train.momentum));
  flag("beta1", shortest_text(train.beta1));
  flag("beta2", shortest_text(train.beta2));
  flag("epsilon", shortest_text(train.epsilon));
  flag("weight-decay", shortest_text(train.weight_decay));
  flag("schedule", std::string(to_string(train.schedule)));
  flag("warmup", shortest_text(train.warmup_epochs));
  flag("step-epochs", std::to_string(train.step_epochs));
  flag("step-gamma", shortest_text(train.step_gamma));
  flag("early-stopping", std::to_string(train.early_stopping_patience));
  flag("batch-size", std::to_string(train.batch_size));
  flag("epochs", std::to_string(train.epochs));
  flag("seed", std::to_string(train.seed));
  flag("backend", backend == BackendKind::cuda ? "cuda" : "cpu");
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
    case MetricKind::validation_loss: return report.validation.loss;
    case MetricKind::validation_accuracy: return report.validation.accuracy;
    case MetricKind::validation_rmse: return report.validation.rmse;
    case MetricKind::train_loss: return report.train_loss;
  }
  return report.validation.loss;
}

}  // namespace mlptune::tune
