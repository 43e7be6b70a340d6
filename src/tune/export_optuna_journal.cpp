// A study as an Optuna journal file: CREATE_STUDY, then per trial CREATE_TRIAL, SET_TRIAL_PARAM,
// SET_TRIAL_USER_ATTR, SET_TRIAL_INTERMEDIATE_VALUE and SET_TRIAL_STATE_VALUES.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "mlptune/tune/report.hpp"
#include "tune/export_time.hpp"
#include "tune/search_space_math.hpp"
#include "tune/storage_json.hpp"

namespace mlptune::tune {
namespace {

using nlohmann::json;

enum class OptunaOp {
  create_study = 0,
  create_trial = 4,
  set_param = 5,
  set_state_values = 6,
  set_intermediate = 7,
  set_user_attr = 8
};
constexpr const char* kWorkerId = "mlptune-export";

json operation(OptunaOp op) {
  return json{{"op_code", int(op)}, {"worker_id", kWorkerId}};
}

int optuna_state(RunState state) {  // Optuna's TrialState numbers share RunState's order
  return int(state);
}

bool is_log_kind(DistributionKind kind) {
  switch (kind) {
    case DistributionKind::log_uniform:
    case DistributionKind::log_uniform_values:
    case DistributionKind::q_log_uniform:
    case DistributionKind::q_log_uniform_values:
    case DistributionKind::inv_log_uniform:
    case DistributionKind::inv_log_uniform_values:
      return true;
    default:
      return false;
  }
}

// Optuna's IntDistribution bounds are 64-bit integers; a stored range beyond them (an int_uniform
// from INT64_MIN to INT64_MAX, whose double rounds up to 2^63) is clamped, since converting an
// out-of-range double to an integer is undefined.
std::int64_t int64_bound(double value) {
  constexpr double kLimit = 9.2e18;  // just below 2^63
  return std::isnan(value) ? 0 : std::int64_t(std::clamp(value, -kLimit, kLimit));
}

// One parameter's distribution as Optuna sees it, covering every value the study holds.
struct OptunaParameter {
  enum class Kind { categorical, integer, real } kind = Kind::categorical;
  std::vector<ParamValue> choices;
  double low = 0.0, high = 0.0;
  bool log = false;

  std::string distribution_json() const {
    if (kind == Kind::categorical) {
      json choice_list = json::array();
      for (const auto& choice : choices) choice_list.push_back(param_value_to_json(choice));
      return json{{"name", "CategoricalDistribution"}, {"attributes", {{"choices", choice_list}}}}.dump();
    }
    if (kind == Kind::integer)
      return json{
          {"name", "IntDistribution"},
          {"attributes",
           {{"log", log}, {"step", 1}, {"low", int64_bound(std::floor(low))}, {"high", int64_bound(std::ceil(high))}}}}
          .dump();
    return json{{"name", "FloatDistribution"},
                {"attributes", {{"step", nullptr}, {"low", low}, {"high", high}, {"log", log}}}}
        .dump();
  }

  json internal_value(const ParamValue& value) const {
    if (kind == Kind::categorical)
      return std::distance(choices.begin(), std::find(choices.begin(), choices.end(), value));
    return std::visit(
        [](const auto& held) -> json {
          if constexpr (std::is_arithmetic_v<std::decay_t<decltype(held)>>) return double(held);
          return nullptr;
        },
        value);
  }
};

double as_double(const ParamValue& value) {
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return double(*integer);
  return std::get<double>(value);
}

OptunaParameter describe_parameter(const std::string& name, const std::vector<TrialRecord>& trials) {
  OptunaParameter parameter;
  std::vector<ParamValue> observed;
  const Distribution* distribution = nullptr;
  for (const auto& record : trials) {
    if (auto found = record.trial.params.find(name); found != record.trial.params.end())
      observed.push_back(found->second);
    if (auto found = record.distributions.find(name); found != record.distributions.end() && !distribution)
      distribution = &found->second;
  }
  const bool numeric_range = distribution && distribution->kind != DistributionKind::categorical &&
                             distribution->kind != DistributionKind::constant;
  const bool all_numbers =
      std::all_of(observed.begin(), observed.end(), [](auto& v) { return !std::holds_alternative<std::string>(v); });
  if (!numeric_range || !all_numbers) {
    if (distribution) parameter.choices = distribution->values;
    for (const auto& value : observed)
      if (std::find(parameter.choices.begin(), parameter.choices.end(), value) == parameter.choices.end())
        parameter.choices.push_back(value);
    return parameter;
  }
  const bool integers =
      std::all_of(observed.begin(), observed.end(), [](auto& v) { return std::holds_alternative<std::int64_t>(v); });
  parameter.kind = integers ? OptunaParameter::Kind::integer : OptunaParameter::Kind::real;
  parameter.log = is_log_kind(distribution->kind);
  auto range = space::natural_range(*distribution);
  parameter.low = range ? range->first : as_double(observed.front());
  parameter.high = range ? range->second : as_double(observed.front());
  for (const auto& value : observed) {
    parameter.low = std::min(parameter.low, as_double(value));
    parameter.high = std::max(parameter.high, as_double(value));
  }
  return parameter;
}

void append_trial(std::string& text, int trial_id, const TrialRecord& record,
                  const std::map<std::string, OptunaParameter>& parameters) {
  // Messages need not be UTF-8 (a path in a failure message): invalid bytes become U+FFFD.
  auto line = [&text](const json& entry) { text += entry.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; };
  const FrozenTrial& trial = record.trial;
  json create = operation(OptunaOp::create_trial);
  create["study_id"] = 0;
  create["datetime_start"] = trial.started_at > 0 ? json(iso8601_utc(trial.started_at)) : json(nullptr);
  line(create);
  for (const auto& [name, value] : trial.params) {
    const OptunaParameter& parameter = parameters.at(name);
    json set = operation(OptunaOp::set_param);
    set.update({{"trial_id", trial_id},
                {"param_name", name},
                {"param_value_internal", parameter.internal_value(value)},
                {"distribution", parameter.distribution_json()}});
    line(set);
  }
  std::map<std::string, std::string> attributes = record.attributes;
  attributes["seed"] = std::to_string(trial.seed);
  if (!trial.message.empty()) attributes["message"] = trial.message;
  for (const auto& [key, value] : attributes) {
    json set = operation(OptunaOp::set_user_attr);
    set.update({{"trial_id", trial_id}, {"user_attr", {{key, value}}}});
    line(set);
  }
  for (const auto& [epoch, value] : trial.intermediate) {
    json set = operation(OptunaOp::set_intermediate);
    set.update({{"trial_id", trial_id}, {"step", epoch}, {"intermediate_value", value}});
    line(set);
  }
  if (trial.state == RunState::running) return;  // created running already
  json state = operation(OptunaOp::set_state_values);
  state.update({{"trial_id", trial_id},
                {"state", optuna_state(trial.state)},
                {"values", trial.value ? json::array({*trial.value}) : json(nullptr)},
                {"datetime_complete", trial.finished_at > 0 ? json(iso8601_utc(trial.finished_at)) : json(nullptr)}});
  line(state);
}

}  // namespace

std::string optuna_journal(const StudyInfo& study, const std::vector<TrialRecord>& trials) {
  std::set<std::string> names;
  for (const auto& record : trials)
    for (const auto& [name, value] : record.trial.params) names.insert(name);
  std::map<std::string, OptunaParameter> parameters;
  for (const auto& name : names) parameters[name] = describe_parameter(name, trials);

  json create = operation(OptunaOp::create_study);
  create["study_name"] = study.name;
  create["directions"] = json::array({study.direction == Goal::minimize ? 1 : 2});
  std::string text = create.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";  // names need not be UTF-8
  for (std::size_t i = 0; i < trials.size(); ++i) append_trial(text, int(i), trials[i], parameters);
  return text;
}

}  // namespace mlptune::tune
