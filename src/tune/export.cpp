// Exporting a study: trials.csv and trials.json (Optuna's trials_dataframe columns),
// intermediate.csv, and the Optuna journal.log.
#include <nlohmann/json.hpp>
#include <set>

#include "common/number_text.hpp"
#include "io/output_file.hpp"
#include "mlptune/tune/report.hpp"
#include "tune/export_time.hpp"
#include "tune/optuna_journal.hpp"
#include "tune/storage_json.hpp"

namespace mlptune::tune {
namespace {

using nlohmann::json;

std::string optuna_state_name(RunState state) {
  switch (state) {
    case RunState::running:
      return "RUNNING";
    case RunState::complete:
      return "COMPLETE";
    case RunState::pruned:
      return "PRUNED";
    case RunState::failed:
      return "FAIL";
    case RunState::waiting:
      return "WAITING";
  }
  return "FAIL";
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// ISO 8601 with its time zone ("2024-05-01T12:34:56.123456+00:00"), which pandas.to_datetime reads as UTC.
std::string time_text(double unix_seconds) {
  return unix_seconds > 0 ? iso8601_utc(unix_seconds) : "";
}

std::optional<double> duration_of(const FrozenTrial& trial) {
  if (trial.started_at <= 0 || trial.finished_at <= 0) return std::nullopt;
  return trial.finished_at - trial.started_at;
}

std::vector<std::string> parameter_names(const std::vector<TrialRecord>& trials) {
  std::set<std::string> names;
  for (const auto& record : trials)
    for (const auto& [name, value] : record.trial.params) names.insert(name);
  return {names.begin(), names.end()};
}

// The user attributes' keys of every trial, but the message, which has a column of its own.
std::vector<std::string> attribute_names(const std::vector<TrialRecord>& trials) {
  std::set<std::string> names;
  for (const auto& record : trials)
    for (const auto& [name, value] : user_attributes(record)) names.insert(name);
  names.erase("message");
  return {names.begin(), names.end()};
}

std::string trials_csv(const std::vector<TrialRecord>& trials) {
  const auto names = parameter_names(trials);
  const auto attribute_keys = attribute_names(trials);
  std::string text = "number,value,datetime_start,datetime_complete,duration";
  for (const auto& name : names) text += ",params_" + csv_field(name);
  for (const auto& key : attribute_keys) text += ",user_attrs_" + csv_field(key);
  text += ",state,message\n";
  for (const auto& record : trials) {
    const FrozenTrial& trial = record.trial;
    const auto duration = duration_of(trial);
    text += std::to_string(trial.number) + "," + (trial.value ? shortest_text(*trial.value) : "") + "," +
            time_text(trial.started_at) + "," + time_text(trial.finished_at) + "," +
            (duration ? shortest_text(*duration) : "");
    for (const auto& name : names) {
      const auto found = trial.params.find(name);
      text += ',';
      if (found != trial.params.end()) text += csv_field(to_string(found->second));
    }
    const auto attributes = user_attributes(record);
    for (const auto& key : attribute_keys) {
      const auto found = attributes.find(key);
      text += ',';
      if (found != attributes.end()) text += csv_field(found->second);
    }
    text += ',';
    text += optuna_state_name(trial.state);
    text += ',';
    text += csv_field(trial.message);
    text += '\n';
  }
  return text;
}

// Each trial's fields in the order of trials.csv's columns.
nlohmann::ordered_json trials_json(const std::vector<TrialRecord>& trials) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& record : trials) {
    const FrozenTrial& trial = record.trial;
    nlohmann::ordered_json entry{
        {"number", trial.number},
        {"value", trial.value ? json(*trial.value) : json(nullptr)},
        {"datetime_start", trial.started_at > 0 ? json(time_text(trial.started_at)) : json(nullptr)},
        {"datetime_complete", trial.finished_at > 0 ? json(time_text(trial.finished_at)) : json(nullptr)},
        {"duration", duration_of(trial) ? json(*duration_of(trial)) : json(nullptr)},
        {"state", optuna_state_name(trial.state)},
        {"message", trial.message}};
    for (const auto& [name, value] : trial.params) entry["params_" + name] = param_value_to_json(value);
    for (const auto& [key, value] : user_attributes(record))
      if (key != "message") entry["user_attrs_" + key] = value;
    // Keyed by epoch in epoch order ("2" before "10"), as the storage holds them.
    nlohmann::ordered_json intermediate = nlohmann::ordered_json::object();
    for (const auto& [epoch, value] : trial.intermediate) intermediate[std::to_string(epoch)] = value;
    entry["intermediate_values"] = intermediate;
    list.push_back(std::move(entry));
  }
  return list;
}

std::string intermediate_csv(const std::vector<TrialRecord>& trials) {
  std::string text = "number,epoch,value,state\n";
  for (const auto& record : trials)
    for (const auto& [epoch, value] : record.trial.intermediate)
      text += std::to_string(record.trial.number) + "," + std::to_string(epoch) + "," + shortest_text(value) + "," +
              optuna_state_name(record.trial.state) + "\n";
  return text;
}

// The objective's label from the configuration the study was started with; none for a study
// stored without one, or with one this version reads differently.
std::vector<std::string> stored_metric_names(const StudyInfo& study) {
  const std::string metric = stored_metric_name(study);
  return metric.empty() ? std::vector<std::string>{} : std::vector<std::string>{metric};
}

}  // namespace

void export_study(Storage& storage, const std::string& study_name, const std::filesystem::path& folder) {
  const StudyInfo study = find_report_study(storage, study_name);
  const std::vector<TrialRecord> trials = storage.trial_records(study.id);
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (error) throw StorageError(folder.string() + ": cannot create the export folder (" + error.message() + ")");
  io::write_file_atomically(folder / "trials.csv", trials_csv(trials));
  // Messages and names are stored as given and need not be UTF-8 (a path in a failure message):
  // invalid bytes become U+FFFD rather than failing the export.
  io::write_file_atomically(folder / "trials.json",
                            trials_json(trials).dump(2, ' ', false, json::error_handler_t::replace) + "\n");
  io::write_file_atomically(folder / "intermediate.csv", intermediate_csv(trials));
  io::write_file_atomically(folder / "journal.log", optuna_journal(study, trials, stored_metric_names(study)));
}

}  // namespace mlptune::tune
