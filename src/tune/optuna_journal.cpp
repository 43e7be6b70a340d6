// A study as Optuna journal records: CREATE_STUDY and the metric names, then per trial
// CREATE_TRIAL, SET_TRIAL_PARAM, SET_TRIAL_USER_ATTR, SET_TRIAL_INTERMEDIATE_VALUE and
// SET_TRIAL_STATE_VALUES; and a journal read back as Optuna replays it.
#include "tune/optuna_journal.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "mlptune/tune/report.hpp"
#include "mlptune/tune/study.hpp"
#include "tune/export_time.hpp"
#include "tune/search_space_math.hpp"
#include "tune/storage_json.hpp"
#include "tune/unix_now.hpp"

namespace mlptune::tune {
namespace {

using nlohmann::json;

enum class OptunaOp {  // Optuna's JournalOperation numbers
  create_study = 0,
  delete_study = 1,
  set_study_user_attr = 2,
  set_study_system_attr = 3,
  create_trial = 4,
  set_param = 5,
  set_state_values = 6,
  set_intermediate = 7,
  set_user_attr = 8,
  set_system_attr = 9
};
constexpr const char* kMetricNamesAttribute = "study:metric_names";  // Optuna's study.set_metric_names
constexpr const char* kExportWorkerId = "mlptune-export";

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

OptunaParameter describe_parameter(const std::string& name, std::span<const TrialRecord> trials) {
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

// Optuna reads a finished trial's datetime_complete, and a trial set running again its
// datetime_start, as text: a time the storage lacks becomes the present.
std::string time_or_now(double unix_seconds) {
  if (unix_seconds > 0) return iso8601_utc(unix_seconds);
  return iso8601_utc(unix_now());
}

// The records of one study, each one line; study id 0, as the journal holds only this study.
class RecordWriter {
 public:
  explicit RecordWriter(std::string_view worker_id) : worker_id_(worker_id) {}

  void add(OptunaOp op, json fields) {
    fields["op_code"] = int(op);
    fields["worker_id"] = worker_id_;
    // Names and messages need not be UTF-8 (a path in a failure message): invalid bytes become U+FFFD.
    lines_.push_back(fields.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
  }
  std::vector<std::string> take() { return std::move(lines_); }

 private:
  std::string worker_id_;
  std::vector<std::string> lines_;
};

std::map<std::string, OptunaParameter> describe_parameters(std::span<const TrialRecord> trials) {
  std::set<std::string> names;
  for (const auto& record : trials)
    for (const auto& [name, value] : record.trial.params) names.insert(name);
  std::map<std::string, OptunaParameter> parameters;
  for (const auto& name : names) parameters[name] = describe_parameter(name, trials);
  return parameters;
}

// What `journal` (the trial as the journal holds it so far) lacks of `record`, in the order Optuna
// accepts: everything else before the state, since a finished trial takes no more updates.
void catch_up_trial(RecordWriter& out, int trial_id, JournalTrial journal, const TrialRecord& record,
                    const std::map<std::string, OptunaParameter>& parameters) {
  if (is_finished(journal.state)) return;
  const FrozenTrial& trial = record.trial;
  for (const auto& [name, value] : trial.params) {
    if (journal.params.contains(name)) continue;
    const OptunaParameter& parameter = parameters.at(name);
    out.add(OptunaOp::set_param, {{"trial_id", trial_id},
                                  {"param_name", name},
                                  {"param_value_internal", parameter.internal_value(value)},
                                  {"distribution", parameter.distribution_json()}});
  }
  for (const auto& [key, value] : user_attributes(record)) {
    const auto held = journal.user_attrs.find(key);
    if (held == journal.user_attrs.end() || held->second != value)
      out.add(OptunaOp::set_user_attr, {{"trial_id", trial_id}, {"user_attr", {{key, value}}}});
  }
  for (const auto& [epoch, value] : trial.intermediate) {
    const auto held = journal.intermediate.find(epoch);
    if (held == journal.intermediate.end() || held->second != value)
      out.add(OptunaOp::set_intermediate, {{"trial_id", trial_id}, {"step", epoch}, {"intermediate_value", value}});
  }
  if (trial.state == journal.state) return;
  json state{{"trial_id", trial_id}, {"state", optuna_state(trial.state)}, {"values", nullptr}};
  if (trial.state == RunState::running) state["datetime_start"] = time_or_now(trial.started_at);
  if (is_finished(trial.state)) {
    if (trial.value) state["values"] = json::array({*trial.value});
    state["datetime_complete"] = time_or_now(trial.finished_at);
  }
  out.add(OptunaOp::set_state_values, std::move(state));
}

// --- reading a journal back ---

const json& field(const json& record, const char* name) {
  const auto found = record.find(name);
  if (found == record.end()) throw Error(std::string("a record without its ") + name + " field");
  return *found;
}

void check_study_id(const json& record) {
  if (field(record, "study_id") != 0)
    throw Error("a record of another study (study_id " + field(record, "study_id").dump() + ")");
}

// An integer field within [low, high]; what is no such integer (a float, 1e300) is refused, since
// converting it would be undefined.
std::int64_t integer_field(const json& record, const char* name, std::int64_t low, std::int64_t high) {
  const json& value = field(record, name);
  if (!value.is_number_integer() || (value.is_number_unsigned() && value.get<std::uint64_t>() > std::uint64_t(high)) ||
      value.get<std::int64_t>() < low || value.get<std::int64_t>() > high)
    throw Error(std::string("a record whose ") + name + " is " + value.dump() + ", not an integer in [" +
                std::to_string(low) + ", " + std::to_string(high) + "]");
  return value.get<std::int64_t>();
}

JournalTrial& trial_of(JournalState& journal, const json& record) {
  const std::int64_t id = integer_field(record, "trial_id", 0, std::numeric_limits<std::int64_t>::max());
  if (id >= std::int64_t(journal.trials.size()))
    throw Error("a record of trial id " + std::to_string(id) + ", which no CREATE_TRIAL made");
  return journal.trials[std::size_t(id)];
}

RunState run_state(const json& record) {
  return RunState(integer_field(record, "state", 0, int(RunState::waiting)));
}

void apply_trial_record(JournalState& journal, OptunaOp op, const json& record) {
  JournalTrial& trial = trial_of(journal, record);
  if (is_finished(trial.state)) return;  // Optuna ignores updates of a finished trial
  switch (op) {
    case OptunaOp::set_param:
      trial.params.insert(field(record, "param_name").get<std::string>());
      return;
    case OptunaOp::set_state_values: {
      const RunState state = run_state(record);
      if (!(state == RunState::running && trial.state == RunState::running)) trial.state = state;
      return;
    }
    case OptunaOp::set_intermediate: {
      const json& value = field(record, "intermediate_value");
      const auto step =
          int(integer_field(record, "step", std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
      trial.intermediate[step] = value.is_number() ? value.get<double>() : std::nan("");
      return;
    }
    case OptunaOp::set_user_attr:
      for (const auto& [key, value] : field(record, "user_attr").items())
        trial.user_attrs[key] = value.is_string() ? value.get<std::string>() : value.dump();
      return;
    default:  // set_system_attr: nothing mlptune compares
      return;
  }
}

void apply_record(JournalState& journal, const json& record) {
  if (!record.is_object() || !record.contains("op_code") || !record["op_code"].is_number_integer())
    throw Error("a line that is no journal record (no op_code)");
  const int code = record["op_code"].get<int>();
  const auto op = OptunaOp(code);
  if (op == OptunaOp::create_study) {
    if (journal.study_name) throw Error("a second study");
    journal.study_name = field(record, "study_name").get<std::string>();
    return;
  }
  if (!journal.study_name) throw Error("a record before the study's CREATE_STUDY");
  switch (op) {
    case OptunaOp::delete_study:
      throw Error("the study deleted");
    case OptunaOp::set_study_user_attr:
      return check_study_id(record);
    case OptunaOp::set_study_system_attr:
      check_study_id(record);
      if (const json& attribute = field(record, "system_attr"); attribute.contains(kMetricNamesAttribute))
        journal.metric_names = attribute[kMetricNamesAttribute].get<std::vector<std::string>>();
      return;
    case OptunaOp::create_trial:
      check_study_id(record);
      journal.trials.push_back({});
      if (record.contains("state")) journal.trials.back().state = run_state(record);
      return;
    case OptunaOp::set_param:
    case OptunaOp::set_state_values:
    case OptunaOp::set_intermediate:
    case OptunaOp::set_user_attr:
    case OptunaOp::set_system_attr:
      return apply_trial_record(journal, op, record);
    default:
      throw Error("a record with op_code " + std::to_string(code) + ", which Optuna's journal does not have");
  }
}

}  // namespace

void apply_journal_record(JournalState& journal, std::string_view line) {
  json record;
  try {
    record = json::parse(line);
  } catch (const json::exception&) {  // not JSON, or a number no double holds (1e3000)
    throw Error("a line that is not JSON");
  }
  try {
    apply_record(journal, record);
  } catch (const json::exception&) {  // a field of the wrong type
    throw Error("a record whose fields Optuna would not read: " +
                record.dump(-1, ' ', false, json::error_handler_t::replace));
  }
}

std::map<std::string, std::string> user_attributes(const TrialRecord& record) {
  std::map<std::string, std::string> attributes = record.attributes;
  attributes["seed"] = std::to_string(record.trial.seed);
  if (!record.trial.message.empty()) attributes["message"] = record.trial.message;
  return attributes;
}

std::vector<std::string> journal_metric_names(const StudyConfig& config) {
  return {std::string(to_string(parse_metric(config.metric.name)))};
}

std::vector<std::string> journal_records_to_catch_up(const JournalState& journal, const StudyInfo& study,
                                                     const std::vector<std::string>& metric_names,
                                                     std::span<const TrialRecord> trials, std::string_view worker_id) {
  RecordWriter out(worker_id);
  if (!journal.study_name)
    out.add(OptunaOp::create_study,
            {{"study_name", study.name}, {"directions", json::array({study.direction == Goal::minimize ? 1 : 2})}});
  if (!metric_names.empty() && journal.metric_names != metric_names)
    out.add(OptunaOp::set_study_system_attr,
            {{"study_id", 0}, {"system_attr", {{kMetricNamesAttribute, metric_names}}}});
  const auto parameters = describe_parameters(trials);
  int next_id = int(journal.trials.size());
  for (const TrialRecord& record : trials) {
    const int id = record.trial.number;  // trial ids are numbers: trials are created in number order
    if (id < next_id && id >= 0) {
      catch_up_trial(out, id, journal.trials[std::size_t(id)], record, parameters);
      continue;
    }
    if (id != next_id) break;  // a gap in the numbers: the trials after it wait for it
    out.add(
        OptunaOp::create_trial,
        {{"study_id", 0},
         {"datetime_start", record.trial.started_at > 0 ? json(iso8601_utc(record.trial.started_at)) : json(nullptr)}});
    catch_up_trial(out, id, JournalTrial{}, record, parameters);
    ++next_id;
  }
  return out.take();
}

std::string optuna_journal(const StudyInfo& study, const std::vector<TrialRecord>& trials,
                           const std::vector<std::string>& metric_names) {
  std::string text;
  for (const std::string& line :
       journal_records_to_catch_up(JournalState{}, study, metric_names, trials, kExportWorkerId))
    text += line;
  return text;
}

}  // namespace mlptune::tune
