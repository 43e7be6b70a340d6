// The leaderboard of a study and its best configuration as a `mlptune train` line.
#include "mlptune/tune/report.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include "common/text_list.hpp"

namespace mlptune::tune {
namespace {

bool ranks_before(const TrialRecord& a, const TrialRecord& b, Goal goal) {
  const bool a_complete = a.trial.state == RunState::complete, b_complete = b.trial.state == RunState::complete;
  if (a_complete != b_complete) return a_complete;
  if (*a.trial.value != *b.trial.value)
    return goal == Goal::minimize ? *a.trial.value < *b.trial.value : *a.trial.value > *b.trial.value;
  return a.trial.number < b.trial.number;
}

std::string value_text(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.6g", value);
  return buffer;
}

std::string param_text(const ParamValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return std::to_string(*integer);
  return value_text(std::get<double>(value));
}

// A parameter's cell: its sampled value, and for epochs the epochs the trial trains when a
// scheduler or mlptune.cpu_max_epochs set them apart ("2 (drew 12)").
std::string param_cell(const TrialRecord& record, const std::string& name) {
  const auto found = record.trial.params.find(name);
  if (found == record.trial.params.end()) return "-";
  const std::string sampled = param_text(found->second);
  const auto trained = record.attributes.find("epochs");
  if (name != "epochs" || trained == record.attributes.end() || trained->second == sampled) return sampled;
  return trained->second + " (drew " + sampled + ")";
}

std::string padded(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

void count(StudyReport& report, RunState state) {
  switch (state) {
    case RunState::complete:
      ++report.complete;
      break;
    case RunState::pruned:
      ++report.pruned;
      break;
    case RunState::failed:
      ++report.failed;
      break;
    case RunState::running:
      ++report.running;
      break;
    case RunState::waiting:
      ++report.waiting;
      break;
  }
}

}  // namespace

StudyInfo find_report_study(Storage& storage, const std::string& study_name) {
  const auto studies = storage.studies();
  const std::string names = join(studies, ", ", &StudyInfo::name);
  if (study_name.empty() && studies.size() == 1) return studies.front();
  for (const auto& study : studies)
    if (study.name == study_name) return study;
  if (studies.empty()) throw StorageError("the storage holds no study yet; run `mlptune tune CONFIG` first");
  throw StorageError(
      (study_name.empty() ? std::string("several studies share this storage") : "no study named '" + study_name + "'") +
      "; choose one of: " + names);
}

StudyReport make_report(Storage& storage, const std::string& study_name, int top_n) {
  StudyReport report;
  report.study = find_report_study(storage, study_name);
  std::vector<TrialRecord> ranked;
  for (auto& record : storage.trial_records(report.study.id)) {
    count(report, record.trial.state);
    const bool rankable = record.trial.state == RunState::complete || record.trial.state == RunState::pruned;
    if (rankable && record.trial.value) ranked.push_back(std::move(record));
  }
  std::sort(ranked.begin(), ranked.end(), [&](auto& a, auto& b) { return ranks_before(a, b, report.study.direction); });
  if (!ranked.empty() && ranked.front().trial.state == RunState::complete) {
    report.best = ranked.front();
    if (report.best->attributes.count("command")) report.best_command = report.best->attributes.at("command");
  }
  if (int(ranked.size()) > top_n) ranked.resize(std::size_t(std::max(0, top_n)));
  report.leaderboard = std::move(ranked);
  return report;
}

std::string format_report(const StudyReport& report) {
  std::set<std::string> names;
  for (const auto& record : report.leaderboard)
    for (const auto& [name, value] : record.trial.params) names.insert(name);
  std::string text = "study " + report.study.name + " (" +
                     (report.study.direction == Goal::minimize ? "minimize" : "maximize") +
                     "): " + std::to_string(report.complete) + " complete, " + std::to_string(report.pruned) +
                     " pruned, " + std::to_string(report.failed) + " failed, " + std::to_string(report.running) +
                     " running, " + std::to_string(report.waiting) + " waiting\n\n";
  text += padded("rank", 6) + padded("trial", 7) + padded("value", 14) + padded("state", 10) + padded("trained", 9);
  for (const auto& name : names) text += padded(name, std::max<std::size_t>(12, name.size() + 2));
  text += "\n";
  int rank = 1;
  for (const auto& record : report.leaderboard) {
    const FrozenTrial& trial = record.trial;
    text += padded(std::to_string(rank++), 6) + padded(std::to_string(trial.number), 7) +
            padded(value_text(*trial.value), 14) + padded(std::string(to_string(trial.state)), 10) +
            padded(std::to_string(trial.intermediate.size()), 9);
    for (const auto& name : names) text += padded(param_cell(record, name), std::max<std::size_t>(12, name.size() + 2));
    text += "\n";
  }
  if (report.best)
    text += "\nbest: trial " + std::to_string(report.best->trial.number) + ", value " +
            value_text(*report.best->trial.value) + "\n  " + report.best_command + "\n";
  else
    text += "\nno trial has completed yet\n";
  return text;
}

}  // namespace mlptune::tune
