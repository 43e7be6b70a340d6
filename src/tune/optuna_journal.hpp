// The records of an Optuna journal file for one study: what a journal holds as Optuna replays it,
// and the records that bring it level with the storage. `mlptune export` writes them all at once
// (from an empty journal); `mlptune tune --journal` appends them as the study runs.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mlptune/tune/storage.hpp"
#include "mlptune/tune/study_config.hpp"

namespace mlptune::tune {

// One trial as a journal holds it. Optuna ignores every update of a finished trial, so the
// records that bring one level stop at its final state.
struct JournalTrial {
  RunState state = RunState::running;
  std::set<std::string> params;
  std::map<std::string, std::string> user_attrs;
  std::map<int, double> intermediate;
};

// A journal of one study (study id 0). Trial ids count CREATE_TRIAL records, so trial id N is the
// study's trial number N: trials are created in number order.
struct JournalState {
  std::optional<std::string> study_name;  // set by CREATE_STUDY
  std::optional<std::vector<std::string>> metric_names;
  std::vector<JournalTrial> trials;
};

// Applies one line (without its newline) as Optuna's replay does. Throws Error saying why when the
// line is not JSON, or is a record of another study or of another kind than a single study's
// journal holds (a second study, a deleted study, a trial id never created).
void apply_journal_record(JournalState& journal, std::string_view line);

// A trial's Optuna user attributes, all text: its stored attributes ("command": the `mlptune train`
// line; "epochs": the epochs it trains, which a scheduler or mlptune.cpu_max_epochs may set apart
// from the sampled parameters.epochs), "seed" (decimal, as --seed takes it) and, when it has one,
// "message". The journal holds them as SET_TRIAL_USER_ATTR; the tables as user_attrs_* columns.
std::map<std::string, std::string> user_attributes(const TrialRecord& record);

// The labels of the study's objective: the metric's canonical name ("validation_accuracy"), as
// Optuna's study.set_metric_names stores them (the study system attribute study:metric_names).
std::vector<std::string> journal_metric_names(const StudyConfig& config);

// The records, each one line ending in '\n', that bring `journal` level with `study` and its trials
// (all of them, by number): CREATE_STUDY and the metric names when missing, then per trial
// CREATE_TRIAL, SET_TRIAL_PARAM, SET_TRIAL_USER_ATTR and SET_TRIAL_INTERMEDIATE_VALUE for what the
// journal lacks or holds with another value, and SET_TRIAL_STATE_VALUES when the state differs.
// Empty when the journal is level. `worker_id` names the writer in every record.
std::vector<std::string> journal_records_to_catch_up(const JournalState& journal, const StudyInfo& study,
                                                     const std::vector<std::string>& metric_names,
                                                     std::span<const TrialRecord> trials, std::string_view worker_id);

}  // namespace mlptune::tune
