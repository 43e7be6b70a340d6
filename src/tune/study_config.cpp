// The study config: a W&B Sweeps YAML file plus mlptune's own `mlptune:` section, parsed and validated.
#include "mlptune/tune/study_config.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "common/count_text.hpp"
#include "common/size_limits.hpp"
#include "mlptune/error.hpp"
#include "mlptune/train_config.hpp"
#include "mlptune/tune/study.hpp"
#include "nn/enum_names.hpp"
#include "nn/name_table.hpp"
#include "tune/checkpoint_interval.hpp"
#include "tune/enum_names.hpp"
#include "tune/search_space_math.hpp"
#include "tune/study_config_parameters.hpp"
#include "tune/study_config_yaml.hpp"
#include "tune/study_timeout.hpp"

namespace mlptune::tune {
namespace {

using config_yaml::Reader;

// A name read through `parse` (a NameTable's, parse_metric, parse_backend_kind): an unknown one
// fails at its key and line with the parser's list of the accepted names.
template <typename Parse>
auto parse_name(const Reader& reader, const YAML::Node& node, std::string_view key, Parse parse) {
  const std::string text = reader.text(node, key);
  try {
    return parse(text);
  } catch (const ConfigError& error) {
    reader.fail(node, key, error.what());
  }
}

template <typename Enum, std::size_t N>
Enum parse_name(const Reader& reader, const YAML::Node& node, std::string_view key,
                const detail::NameTable<Enum, N>& table) {
  return parse_name(reader, node, key, [&table](const std::string& text) { return table.parse(text); });
}

int positive_int(const Reader& reader, const YAML::Node& node, std::string_view key, int minimum,
                 int maximum = std::numeric_limits<int>::max()) {
  const std::int64_t value = reader.integer(node, key);
  if (value < minimum || value > maximum)
    reader.fail(node, key,
                "must be a whole number in [" + std::to_string(minimum) + ", " + std::to_string(maximum) + "], got " +
                    std::to_string(value));
  return static_cast<int>(value);
}

MetricSpec parse_metric(const Reader& reader, const YAML::Node& node) {
  reader.require_map(node, "metric");
  reader.check_keys(node, "metric", {"name", "goal", "target"});
  MetricSpec metric;
  if (const auto name = node["name"]) {
    const MetricKind kind =
        parse_name(reader, name, "metric.name", [](const std::string& text) { return tune::parse_metric(text); });
    metric.name = std::string(to_string(kind));
    metric.named = true;
  }
  if (const auto goal = node["goal"]) metric.goal = parse_name(reader, goal, "metric.goal", kGoalNames);
  if (const auto target = node["target"]) metric.target = reader.real(target, "metric.target");
  return metric;
}

SearchSpace parse_parameters(const Reader& reader, const YAML::Node& node) {
  reader.require_map(node, "parameters");
  if (node.size() == 0) reader.fail(node, "parameters", "is empty; list at least one hyperparameter");
  SearchSpace space;
  for (const auto& entry : node) {
    ParameterSpec parameter = config_yaml::parse_parameter(reader, entry.first, entry.second);
    const auto same_setting = [&parameter](const ParameterSpec& other) {
      return canonical_parameter_name(other.name) == canonical_parameter_name(parameter.name);
    };
    if (const auto given = std::find_if(space.parameters.begin(), space.parameters.end(), same_setting);
        given != space.parameters.end())
      reader.fail(entry.first, "parameters." + parameter.name,
                  "hyperparameter " + given->name + " is given twice (lr and learning_rate are the same)");
    space.parameters.push_back(std::move(parameter));
  }
  config_yaml::check_largest_model(reader, node, space);
  return space;
}

// `parameters` entries and space.parameters are both in file order.
void check_grid(const Reader& reader, const YAML::Node& parameters, const SearchSpace& space) {
  std::size_t index = 0;
  for (const auto& entry : parameters) {
    const DistributionKind kind = space.parameters.at(index++).distribution.kind;
    if (!space::grid_allowed(kind))
      reader.fail(entry.first, "parameters." + entry.first.as<std::string>(),
                  "grid search cannot enumerate distribution " + std::string(to_string(kind)) +
                      "; use values: [...], int_uniform or q_uniform, or method random, bayes or sobol");
  }
}

EarlyTerminate parse_early_terminate(const Reader& reader, const YAML::Node& node) {
  reader.require_map(node, "early_terminate");
  const auto type = node["type"];
  if (!type) reader.fail(node, "early_terminate.type", "missing; use " + kPrunerNames.accepted_names());
  EarlyTerminate result;
  result.type = parse_name(reader, type, "early_terminate.type", kPrunerNames);
  if (result.type == PrunerKind::median) {
    reader.check_keys(node, "early_terminate", {"type", "warmup_epochs", "startup_trials"});
    if (const auto warmup = node["warmup_epochs"])
      result.warmup_epochs = positive_int(reader, warmup, "early_terminate.warmup_epochs", 0);
    if (const auto startup = node["startup_trials"])
      result.startup_trials = positive_int(reader, startup, "early_terminate.startup_trials", 0);
    return result;
  }
  reader.check_keys(node, "early_terminate", {"type", "min_iter", "max_iter", "s", "eta", "strict"});
  if (const auto min_iter = node["min_iter"])
    result.min_iter = positive_int(reader, min_iter, "early_terminate.min_iter", 1);
  if (const auto max_iter = node["max_iter"])
    result.max_iter = positive_int(reader, max_iter, "early_terminate.max_iter", 1);
  if (const auto s = node["s"]) result.s = positive_int(reader, s, "early_terminate.s", 1);
  if (const auto eta = node["eta"]) {
    result.eta = reader.real(eta, "early_terminate.eta");
    if (!(result.eta > 1.0)) reader.fail(eta, "early_terminate.eta", "must be greater than 1, got " + eta.Scalar());
  }
  if (const auto strict = node["strict"]) result.strict = reader.boolean(strict, "early_terminate.strict");
  if (result.min_iter == 0 && result.max_iter == 0)
    reader.fail(node, "early_terminate", "give min_iter (epochs of the first rung) or max_iter (and s)");
  if (result.min_iter > 0 && result.max_iter > 0 && result.min_iter >= result.max_iter)
    reader.fail(node["min_iter"], "early_terminate.min_iter",
                "must be less than max_iter (" + std::to_string(result.max_iter) + ")");
  return result;
}

// A first rung beyond the epochs a trial trains: the schedulers would fail once the study runs.
void check_first_rung(const Reader& reader, const YAML::Node& node, const StudyConfig& config) {
  const EarlyTerminate& terminate = config.early_terminate;
  const bool has_rungs = terminate.type == PrunerKind::hyperband || terminate.type == PrunerKind::asha;
  if (!has_rungs || terminate.max_iter > 0 || terminate.min_iter == 0) return;
  const int epochs = space::largest_epochs(config.space).value_or(TrainConfig{}.epochs);
  if (terminate.min_iter <= epochs) return;
  reader.fail(node["min_iter"], "early_terminate.min_iter",
              "is " + std::to_string(terminate.min_iter) + ", more than the " + count_text(epochs, "epoch") +
                  " a trial trains (" +
                  (config.space.find("epochs") ? "the most parameters.epochs gives" : "the default epochs") +
                  "); lower min_iter, or give max_iter");
}

StudySettings parse_settings(const Reader& reader, const YAML::Node& node) {
  reader.require_map(node, "mlptune");
  reader.check_keys(
      node, "mlptune",
      {"dataset", "data", "label_column", "task", "test_data", "backend", "concurrency", "seed", "storage",
       "study_name", "cpu_run_cap", "cpu_max_epochs", "n_startup_trials", "checkpoint_every", "timeout", "journal"});
  StudySettings settings;
  const auto text = [&](const char* key, std::string& field) {
    if (const auto value = node[key]) field = reader.text(value, std::string("mlptune.") + key);
  };
  text("dataset", settings.dataset);
  text("data", settings.data_path);
  text("label_column", settings.label_column);
  text("test_data", settings.test_data_path);
  text("storage", settings.storage);
  text("study_name", settings.study_name);
  text("journal", settings.journal);
  if (node["dataset"] && node["data"])
    reader.fail(node["data"], "mlptune.data", "give either dataset (a bundled name) or data (a file), not both");
  if (node["test_data"] && !node["data"])
    reader.fail(node["test_data"], "mlptune.test_data",
                "goes with data (your training file); the bundled sets bring their own splits");
  if (const auto task = node["task"]) settings.task = parse_name(reader, task, "mlptune.task", detail::kTaskNames);
  if (node["task"] && !node["data"])
    reader.fail(node["task"], "mlptune.task", "is for data (your file); a bundled set knows its own task");
  if (const auto backend = node["backend"])
    settings.backend = parse_name(reader, backend, "mlptune.backend", parse_backend_kind);
  if (const auto concurrency = node["concurrency"])
    settings.concurrency = positive_int(reader, concurrency, "mlptune.concurrency", 0, kMaxConcurrency);
  if (const auto seed = node["seed"]) {
    const std::int64_t value = reader.integer(seed, "mlptune.seed");
    if (value < 0) reader.fail(seed, "mlptune.seed", "must not be negative");
    settings.seed = static_cast<std::uint64_t>(value);
  }
  if (const auto cap = node["cpu_run_cap"]) settings.cpu_run_cap = positive_int(reader, cap, "mlptune.cpu_run_cap", 1);
  if (const auto epochs = node["cpu_max_epochs"])
    settings.cpu_max_epochs = positive_int(reader, epochs, "mlptune.cpu_max_epochs", 1);
  if (const auto startup = node["n_startup_trials"])
    settings.n_startup_trials = positive_int(reader, startup, "mlptune.n_startup_trials", 0);
  if (const auto every = node["checkpoint_every"]) {
    settings.checkpoint_every_seconds = reader.real(every, "mlptune.checkpoint_every");
    if (!kCheckpointIntervalSeconds.contains(settings.checkpoint_every_seconds))
      reader.fail(every, "mlptune.checkpoint_every",
                  "seconds between a running trial's checkpoints must be " + kCheckpointIntervalSeconds.describe() +
                      " (got " + shortest_text(settings.checkpoint_every_seconds) + ")");
  }
  if (const auto timeout = node["timeout"]) {
    const std::string text = reader.text(timeout, "mlptune.timeout");
    settings.timeout_seconds = parse_timeout(text);
    if (!settings.timeout_seconds) reader.fail(timeout, "mlptune.timeout", timeout_problem(text));
  }
  return settings;
}

// study_name defaults to the config's name, else the file stem; storage to "<stem>.db" beside the file.
void fill_defaults(StudyConfig& config) {
  const std::filesystem::path source(config.source);
  const std::string stem = source.stem().empty() ? "study" : source.stem().string();
  if (config.settings.study_name.empty()) config.settings.study_name = config.name.empty() ? stem : config.name;
  if (config.settings.storage.empty()) config.settings.storage = (source.parent_path() / (stem + ".db")).string();
}

YAML::Node load_yaml(const std::string& yaml_text, const std::string& source_name) {
  try {
    return YAML::Load(yaml_text);
  } catch (const YAML::ParserException& error) {
    throw ConfigError(source_name + ":" + std::to_string(error.mark.line + 1) + ": YAML syntax error: " + error.msg);
  }
}

void parse_top_level(const Reader& reader, const YAML::Node& root, StudyConfig& config) {
  reader.check_keys(root, "",
                    {"method", "metric", "parameters", "early_terminate", "run_cap", "program", "command", "name",
                     "description", "project", "entity", "mlptune"});
  const auto method = root["method"];
  if (!method) reader.fail(root, "method", "missing; use " + kMethodNames.accepted_names());
  config.method = parse_name(reader, method, "method", kMethodNames);
  if (!root["parameters"]) reader.fail(root, "parameters", "missing; list the hyperparameters to search");
  config.space = parse_parameters(reader, root["parameters"]);
  if (config.method == Method::grid) check_grid(reader, root["parameters"], config.space);
  if (const auto metric = root["metric"]) config.metric = parse_metric(reader, metric);
  if (config.method == Method::bayes && !config.metric.named)  // as W&B: "metric is required for bayes search"
    reader.fail(root["metric"] ? root["metric"] : root, "metric",
                "method bayes needs the metric it optimizes (W&B: metric is required for bayes search); add "
                "e.g. metric: {name: validation_loss, goal: minimize}");
  if (const auto terminate = root["early_terminate"]) {
    config.early_terminate = parse_early_terminate(reader, terminate);
    check_first_rung(reader, terminate, config);
  }
  if (const auto run_cap = root["run_cap"]) config.run_cap = positive_int(reader, run_cap, "run_cap", 1);
  if (const auto name = root["name"]) config.name = reader.text(name, "name");
  if (const auto description = root["description"]) config.description = reader.text(description, "description");
  if (const auto program = root["program"]) config.program = reader.text(program, "program");
  for (const char* key : {"project", "entity"})
    if (const auto value = root[key]) reader.text(value, key);  // accepted for W&B compatibility, unused
  if (const auto settings = root["mlptune"]) config.settings = parse_settings(reader, settings);
}

}  // namespace

std::string_view to_string(Method method) {
  return kMethodNames.name_of(method);
}
std::string_view to_string(Goal goal) {
  return kGoalNames.name_of(goal);
}
std::string_view to_string(PrunerKind pruner) {
  return pruner == PrunerKind::none ? "none" : kPrunerNames.name_of(pruner);
}

StudyConfig parse_study_config(const std::string& yaml_text, const std::string& source_name) {
  const Reader reader(source_name);
  const YAML::Node root = load_yaml(yaml_text, source_name);
  if (!root.IsMap())
    throw ConfigError(source_name + ": expected a mapping with method, metric and parameters (a W&B sweep config)");
  reader.require_utf8(root, "");
  if (const auto at = config_yaml::first_invalid_utf8(yaml_text)) {  // in a comment, say
    const auto line = 1 + std::count(yaml_text.begin(), yaml_text.begin() + std::ptrdiff_t(*at), '\n');
    throw ConfigError(source_name + ":" + std::to_string(line) + ": the file is not UTF-8 text (a byte " +
                      config_yaml::printable(yaml_text.substr(*at, 1)) + "); save it as UTF-8");
  }
  StudyConfig config;
  config.source = source_name;
  try {
    parse_top_level(reader, root, config);
  } catch (const YAML::Exception& error) {  // a node yaml-cpp cannot convert: a key that is a list, 1e999
    throw ConfigError(source_name + ":" + std::to_string(error.mark.line + 1) + ": " + error.msg +
                      " (keys must be plain names and numbers within the range of a double)");
  }
  fill_defaults(config);
  return config;
}

StudyConfig load_study_config(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw ConfigError(path + ": cannot open the study config (check the path)");
  std::ostringstream text;
  text << file.rdbuf();
  return parse_study_config(text.str(), path);
}

DataSpec study_data_spec(const StudySettings& settings) {
  DataSpec data;
  data.dataset = settings.dataset;
  data.path = settings.data_path;
  data.label_column = settings.label_column;
  data.task = settings.task;
  data.test_path = settings.test_data_path;
  return data;
}

}  // namespace mlptune::tune
