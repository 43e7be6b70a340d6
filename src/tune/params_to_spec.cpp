// Sampled params to trial settings, trial seeds, and the `mlptune train` line that reproduces a trial.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <functional>
#include <map>

#include "common/counter_rng.hpp"
#include "mlptune/error.hpp"
#include "mlptune/tune/study.hpp"

namespace mlptune::tune {
namespace {

constexpr std::uint64_t kTrialSeedStream = 0x545249414C534545ull;  // "TRIALSEE"

std::string describe(const ParamValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return "'" + *text + "'";
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return std::to_string(*integer);
  return std::to_string(std::get<double>(value));
}

double as_number(const std::string& name, const ParamValue& value) {
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return double(*integer);
  if (const auto* real = std::get_if<double>(&value)) return *real;
  const std::string& text = std::get<std::string>(value);
  double parsed = 0.0;
  const auto [rest, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (error == std::errc() && rest == text.data() + text.size()) return parsed;
  throw ConfigError("parameter '" + name + "': " + describe(value) + " is not a number; give numbers for " + name);
}

int as_int(const std::string& name, const ParamValue& value) {
  const double number = as_number(name, value);
  if (number != std::floor(number))
    throw ConfigError("parameter '" + name + "': " + describe(value) + " is not a whole number; use int_uniform or integer values");
  // A sampled value outside int's range (a log_normal tail, say) must not reach the conversion.
  if (number < double(std::numeric_limits<int>::min()) || number > double(std::numeric_limits<int>::max()))
    throw ConfigError("parameter '" + name + "': " + describe(value) + " is out of range for a count; narrow the range");
  return int(number);
}

std::string as_text(const std::string& name, const ParamValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return std::to_string(*integer);
  throw ConfigError("parameter '" + name + "': " + describe(value) + " is not a name; give names such as relu or adam");
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
      throw ConfigError("parameter '" + name + "': '" + text + "' is not a list of widths >= 1; write e.g. \"256,128\"");
    widths.push_back(width);
    begin = end + 1;
  }
  return widths;
}

using Setter = std::function<void(TrialSpec&, const std::string&, const ParamValue&)>;

const std::map<std::string, Setter, std::less<>>& setters() {
  static const std::map<std::string, Setter, std::less<>> table = {
      {"lr", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.learning_rate = as_number(n, v); }},
      {"learning_rate", [](TrialSpec& s, const std::string& n, const ParamValue& v) { s.train.learning_rate = as_number(n, v); }},
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
  return table;
}

// depth and width together shape the hidden layers; either alone keeps the base's other half.
void apply_depth_and_width(const Params& params, TrialSpec& spec) {
  const auto depth = params.find("depth");
  const auto width = params.find("width");
  if (depth == params.end() && width == params.end()) return;
  if (params.count("hidden"))
    throw ConfigError("parameters 'hidden' and 'depth'/'width' both set the hidden layers; keep one of them");
  const int layers = depth != params.end() ? as_int("depth", depth->second) : std::max<int>(1, int(spec.model.hidden.size()));
  const int units = width != params.end() ? as_int("width", width->second)
                                          : (spec.model.hidden.empty() ? 256 : spec.model.hidden.front());
  if (layers < 0 || units < 1) throw ConfigError("parameters 'depth' must be >= 0 and 'width' >= 1");
  spec.model.hidden.assign(std::size_t(layers), units);
}

std::string number_text(double value) {
  char buffer[64];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);  // shortest round trip
  return std::string(buffer, end);
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
    return all;
  }();
  return names;
}

namespace {
std::string unknown_parameter_message(const std::string& name) {
  std::string list;
  for (auto known : tunable_parameter_names()) list += (list.empty() ? "" : ", ") + std::string(known);
  return "parameter '" + name + "' sets nothing a trial uses; rename it to one of: " + list;
}
}  // namespace

void check_tunable(const SearchSpace& space) {
  const auto& known = tunable_parameter_names();
  for (const auto& parameter : space.parameters)
    if (std::find(known.begin(), known.end(), parameter.name) == known.end())
      throw ConfigError(unknown_parameter_message(parameter.name) + " (line " + std::to_string(parameter.line) + ")");
}

TrialSpec params_to_spec(const Params& params, const TrialSpec& base) {
  TrialSpec spec = base;
  for (const auto& [name, value] : params) {
    if (name == "depth" || name == "width") continue;
    const auto setter = setters().find(name);
    if (setter == setters().end()) throw ConfigError(unknown_parameter_message(name));
    setter->second(spec, name, value);
  }
  apply_depth_and_width(params, spec);
  spec.model.validate();
  spec.train.validate();
  return spec;
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
  flag("lr", number_text(train.learning_rate));
  flag("momentum", number_text(train.momentum));
  flag("beta1", number_text(train.beta1));
  flag("beta2", number_text(train.beta2));
  flag("epsilon", number_text(train.epsilon));
  flag("weight-decay", number_text(train.weight_decay));
  flag("schedule", std::string(to_string(train.schedule)));
  flag("warmup", number_text(train.warmup_epochs));
  flag("step-epochs", std::to_string(train.step_epochs));
  flag("step-gamma", number_text(train.step_gamma));
  flag("early-stopping", std::to_string(train.early_stopping_patience));
  flag("batch-size", std::to_string(train.batch_size));
  flag("epochs", std::to_string(train.epochs));
  flag("seed", std::to_string(train.seed));
  flag("backend", backend == BackendKind::cuda ? "cuda" : "cpu");
  return line;
}

MetricKind parse_metric(std::string_view name) {
  static const std::map<std::string_view, MetricKind> kNames = {
      {"validation_loss", MetricKind::validation_loss},     {"val_loss", MetricKind::validation_loss},
      {"validation_accuracy", MetricKind::validation_accuracy}, {"val_accuracy", MetricKind::validation_accuracy},
      {"accuracy", MetricKind::validation_accuracy},        {"validation_rmse", MetricKind::validation_rmse},
      {"val_rmse", MetricKind::validation_rmse},            {"rmse", MetricKind::validation_rmse},
      {"train_loss", MetricKind::train_loss},               {"loss", MetricKind::train_loss},
  };
  if (auto found = kNames.find(name); found != kNames.end()) return found->second;
  throw ConfigError("metric.name '" + std::string(name) +
                    "' is unknown; use validation_loss, validation_accuracy, validation_rmse or train_loss "
                    "(aliases val_loss, val_accuracy, accuracy, val_rmse, rmse, loss)");
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
