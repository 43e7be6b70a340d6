// The leaderboard of a study and its best configuration as a `mlptune train` line.
#include "mlptune/tune/report.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include "common/text_list.hpp"
#include "mlptune/error.hpp"
#include "mlptune/tune/study_config.hpp"

namespace mlptune::tune {
namespace {

constexpr std::size_t kLeaderboardWidth = 100;  // a wider table wraps into blocks
constexpr std::size_t kColumnGap = 2;

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

// A leaderboard column: its header and one cell per row, as wide as the widest of them.
struct Column {
  std::string header;
  std::vector<std::string> cells;
  std::size_t width() const {
    std::size_t widest = header.size();
    for (const auto& cell : cells) widest = std::max(widest, cell.size());
    return widest + kColumnGap;
  }
};

// The columns every block of the table repeats (rank, trial), those of the first block only (the
// metric, state, epochs trained) and one per hyperparameter.
struct Columns {
  std::vector<Column> key, summary, parameters;
};

Columns leaderboard_columns(const std::vector<TrialRecord>& leaderboard, const std::string& metric) {
  std::set<std::string> names;
  for (const auto& record : leaderboard)
    for (const auto& [name, value] : record.trial.params) names.insert(name);
  Columns columns{{{"rank", {}}, {"trial", {}}}, {{metric, {}}, {"state", {}}, {"trained", {}}}, {}};
  for (const auto& name : names) columns.parameters.push_back({name, {}});
  int rank = 1;
  for (const auto& record : leaderboard) {
    const FrozenTrial& trial = record.trial;
    columns.key[0].cells.push_back(std::to_string(rank++));
    columns.key[1].cells.push_back(std::to_string(trial.number));
    columns.summary[0].cells.push_back(value_text(*trial.value));
    columns.summary[1].cells.push_back(std::string(to_string(trial.state)));
    columns.summary[2].cells.push_back(std::to_string(trial.intermediate.size()));
    for (auto& column : columns.parameters) {
      column.cells.push_back(param_cell(record, column.header));
    }
  }
  return columns;
}

// Rows of `columns`, each cell padded to its column's width, the last one unpadded.
std::string block_text(const std::vector<const Column*>& columns, std::size_t rows) {
  const auto line = [&](const auto& cell_of) {
    std::string text;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const std::string& cell = cell_of(*columns[i]);
      text += i + 1 == columns.size() ? cell : cell + std::string(columns[i]->width() - cell.size(), ' ');
    }
    return text + "\n";
  };
  std::string text = line([](const Column& column) -> const std::string& { return column.header; });
  for (std::size_t row = 0; row < rows; ++row)
    text += line([row](const Column& column) -> const std::string& { return column.cells[row]; });
  return text;
}

// The leaderboard within kLeaderboardWidth columns: hyperparameters that do not fit on the first
// block continue in further blocks, each led by rank and trial again, a blank line between them.
std::string leaderboard_text(const std::vector<TrialRecord>& leaderboard, const std::string& metric) {
  const Columns columns = leaderboard_columns(leaderboard, metric);
  std::vector<const Column*> block;
  std::size_t used = 0;
  const auto add = [&](const Column& column) {
    block.push_back(&column);
    used += column.width();
  };
  for (const auto& column : columns.key) add(column);
  for (const auto& column : columns.summary) add(column);
  std::string text;
  for (const auto& column : columns.parameters) {
    const bool only_keys = block.size() == columns.key.size();  // then even a too wide column goes here
    if (!only_keys && used + column.width() - kColumnGap > kLeaderboardWidth) {
      text += block_text(block, leaderboard.size()) + "\n";
      block.clear();
      used = 0;
      for (const auto& key : columns.key) add(key);
    }
    add(column);
  }
  return text + block_text(block, leaderboard.size());
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

std::string stored_metric_name(const StudyInfo& study) {
  if (study.config_yaml.empty()) return "";
  try {
    return parse_study_config(study.config_yaml, "the stored configuration").metric.name;
  } catch (const Error&) {
    return "";
  }
}

StudyReport make_report(Storage& storage, const std::string& study_name, int top_n) {
  StudyReport report;
  report.study = find_report_study(storage, study_name);
  report.metric = stored_metric_name(report.study);
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
  const std::string metric = report.metric.empty() ? "value" : report.metric;
  std::string text = "study " + report.study.name + " (" + std::string(to_string(report.study.direction)) + " " +
                     metric + "): " + std::to_string(report.complete) + " complete, " + std::to_string(report.pruned) +
                     " pruned, " + std::to_string(report.failed) + " failed, " + std::to_string(report.running) +
                     " running, " + std::to_string(report.waiting) + " waiting\n\n";
  text += leaderboard_text(report.leaderboard, metric);
  if (report.best)
    text += "\nbest: trial " + std::to_string(report.best->trial.number) + ", " + metric + " " +
            value_text(*report.best->trial.value) + "\n  " + report.best_command + "\n";
  else
    text += "\nno trial has completed yet\n";
  return text;
}

}  // namespace mlptune::tune
