// Reading a finished (or running) study back: the leaderboard, the best configuration as a
// `mlptune train` line, and exports (CSV, JSON, and an Optuna journal file optuna-dashboard opens).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mlptune/tune/storage.hpp"

namespace mlptune::tune {

struct StudyReport {
  StudyInfo study;
  std::string metric;  // what the values are ("validation_accuracy"); empty when the storage does not say
  int complete = 0, pruned = 0, failed = 0, running = 0, waiting = 0;
  std::vector<TrialRecord> leaderboard;  // complete trials best first, then pruned ones; at most top_n
  std::optional<TrialRecord> best;       // best complete trial
  std::string best_command;              // its `mlptune train` line
};

// The study named `study_name`, or the only study in the storage when the name is empty. Throws
// StorageError listing the studies there when it is missing or ambiguous.
StudyInfo find_report_study(Storage& storage, const std::string& study_name);

// The metric a study optimizes, as its stored configuration names it ("validation_loss", the
// default, when it names none); empty for a study stored without a configuration this version reads.
std::string stored_metric_name(const StudyInfo& study);

StudyReport make_report(Storage& storage, const std::string& study_name, int top_n = 10);
// A plain-text table: rank, trial, the metric, state, epochs, the hyperparameters, within 100
// columns (more hyperparameters continue in a further block); then the best line.
std::string format_report(const StudyReport& report);

// Writes trials.csv, trials.json, intermediate.csv and journal.log into `folder` (created).
// Columns follow Optuna's trials_dataframe: number, value, datetime_start, datetime_complete,
// duration (seconds), params_<name>..., state, message.
void export_study(Storage& storage, const std::string& study_name, const std::filesystem::path& folder);

// The Optuna journal (JournalStorage/JournalFileBackend) text for one study: one compact JSON
// object per line, trials in number order. `metric_names` (one per objective) label the objective
// in optuna-dashboard, as Optuna's study.set_metric_names does; empty: no labels.
std::string optuna_journal(const StudyInfo& study, const std::vector<TrialRecord>& trials,
                           const std::vector<std::string>& metric_names = {});

}  // namespace mlptune::tune
