// Running a study: trial settings from sampled params (and back to the `mlptune train` line that
// reproduces a trial), metric names, and run_study, which drives the executor with a sampler, a
// scheduler and a storage, resuming whatever an earlier run left.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mlptune/backend.hpp"
#include "mlptune/data.hpp"
#include "mlptune/trial.hpp"
#include "mlptune/tune/stop.hpp"
#include "mlptune/tune/storage.hpp"
#include "mlptune/tune/study_config.hpp"

namespace mlptune::tune {

// --- Trial settings ---------------------------------------------------------------------------------

// The seed of trial `number`: a pure function of the study seed and the number.
std::uint64_t trial_seed(std::uint64_t study_seed, int number);

// The parameter names params_to_spec understands, aliases (learning_rate) included.
const std::vector<std::string_view>& tunable_parameter_names();
// A parameter's canonical name (learning_rate -> lr, lr -> lr); nullopt for a name no trial takes.
std::optional<std::string> canonical_parameter_name(std::string_view name);
// The tunable parameters for messages, each once with its aliases: "depth, width, ..., lr (or learning_rate), ...".
std::string tunable_parameter_list();
// Throws ConfigError naming a search-space parameter that no trial setting takes, with the list.
void check_tunable(const SearchSpace& space);
// Throws SettingError (setting(): the canonical name) when `value` is no valid value of parameter
// `name` in any trial, e.g. lr -1 ("must be > 0 and finite (got -1)"): for a config's constants and
// listed choices, checked when the config is read.
void check_parameter_value(std::string_view name, const ParamValue& value);
// Whether parameter `name` takes whole numbers only: depth, width, batch_size, epochs, ...
bool takes_whole_numbers(std::string_view name);

// Applies params to `base`: every setting the tables mark as searched (hidden ("256,128", or one
// width), activation, init, optimizer, lr (or learning_rate), momentum, ..., batch_size, epochs),
// and depth + width (depth hidden layers of width).
// Throws ConfigError for unknown names, hidden together with depth/width, and values out of range,
// naming the parameter as a study config does: "parameters.lr: must be > 0 and finite (got -0.04) ...".
TrialSpec params_to_spec(const Params& params, const TrialSpec& base);

// The base every trial starts from: `mlptune train`'s defaults, shaped to the data.
TrialSpec default_trial_spec(const DataSplits& data);

// Every flag of `mlptune train` that decides the trial, so the line reproduces it exactly:
// "mlptune train --dataset digits --hidden 256,128 --activation relu ... --seed N --backend cpu".
std::string train_command_line(const TrialSpec& spec, const DataSpec& data, BackendKind backend);

// --- Metrics --------------------------------------------------------------------------------------

enum class MetricKind { validation_loss, validation_accuracy, validation_rmse, train_loss };
// validation_loss (or val_loss, loss), validation_accuracy (or val_accuracy, accuracy),
// validation_rmse (or val_rmse, rmse), train_loss. Throws ConfigError listing them, each once.
MetricKind parse_metric(std::string_view name);
// The canonical name: "validation_loss".
std::string_view to_string(MetricKind metric);
double metric_value(const EpochReport& report, MetricKind metric);

// --- Running a study ------------------------------------------------------------------------------

struct StudyOptions {
  // An SQLite file or a postgresql:// URL; empty: settings.storage, else "<config stem>.db" beside the config.
  std::filesystem::path storage_path;
  std::optional<int> concurrency;      // --concurrency: overrides the config and the backend
  std::optional<BackendKind> backend;  // --backend: overrides the config
  std::string config_yaml;             // the configuration text, kept with the study
  // An existing study continues with a configuration whose search space, metric, pruner or data
  // differ from the stored one: the change is recorded. Without it such a rerun is refused.
  bool allow_config_change = false;
  // The running trials' heartbeat is refreshed this often, from a thread of its own (epoch reports
  // refresh it too). Another host's running trial whose heartbeat is older than stale_after_seconds
  // (unset: 3 intervals) is abandoned and requeued.
  double heartbeat_interval_seconds = 10.0;
  std::optional<double> stale_after_seconds;
  // An abandoned trial runs again at most this many times; then it stays failed, with the reason.
  int max_retries = 3;
  // Running trials save their state at an epoch end at most this often (0: every epoch), so that
  // kill -9 loses at most this much of each; a rerun continues from there. Unset: the config's
  // settings.checkpoint_every_seconds.
  std::optional<double> checkpoint_every_seconds;
  double poll_seconds = 0.2;  // waiting for other processes' trials
  // The time budget of this run (--timeout); unset: the config's settings.timeout_seconds.
  std::optional<double> timeout_seconds;
  // Asked to stop (a signal): no trial starts after it, and running ones end at their next epoch
  // end, saved and waiting for the next run. Null: the study makes its own, for the time budget.
  std::shared_ptr<StopRequest> stop;
  // --journal: the Optuna journal appended as the study runs (optuna-dashboard FILE follows it);
  // empty: the config's settings.journal.
  std::filesystem::path journal_path;
};

struct StudyProgress {
  std::string study_name;
  int run_cap = 0;  // 0: none; the study runs until stopped
  int complete = 0;
  int pruned = 0;
  int failed = 0;
  int running = 0;  // in any process
  int paused = 0;   // waiting at a rung for a promotion
  int done() const { return complete + pruned + failed; }
  std::optional<double> best_value;
  int best_number = -1;
  double elapsed_seconds = 0.0;
  std::optional<double> eta_seconds;   // from this run's pace
  std::optional<double> seconds_left;  // of the time budget
  bool stopping = false;               // asked to stop: waiting for running trials' epochs to end
  std::string event;                   // what just happened: "trial 12 complete: 0.0831", ...
};
using ProgressCallback = std::function<void(const StudyProgress&)>;

struct StudyResult {
  StudyInfo study;
  StudyProgress progress;           // at the end
  std::optional<FrozenTrial> best;  // best complete trial
  std::string best_command;         // its `mlptune train` line
  std::filesystem::path storage_path;
  std::filesystem::path best_weights;  // "<db>.best.safetensors", written whenever the best improved
  bool target_reached = false;
  StopCause stopped_by = StopCause::none;  // the study stopped early for it (a time budget, a signal)
  std::string stop_reason;                 // "the time budget of 10m00s is spent", "Ctrl-C (SIGINT)"
  std::vector<int> suspended;              // trials this run left waiting, saved after their last epoch
  std::string backend_name;
  int slots = 0;
};

// What a study runs on. make_study_parts builds the real ones; tests pass their own.
struct StudyParts {
  std::unique_ptr<Storage> storage;  // null: the SQLite file at the study's storage path
  std::unique_ptr<Backend> backend;
  std::shared_ptr<const DataSplits> data;
  std::unique_ptr<Sampler> sampler;
};
StudyParts make_study_parts(const StudyConfig& config, const StudyOptions& options);

// The storage file and the study name a configuration uses.
std::filesystem::path resolve_storage_path(const StudyConfig& config, const StudyOptions& options);
std::string resolve_study_name(const StudyConfig& config);

// Opens or creates the study, requeues trials whose process died, and runs trials until run_cap
// trials have ended (complete + pruned + failed; counting every trial ever created, so a resumed
// study finishes the interrupted ones rather than starting new ones), the metric target is
// reached, or it is stopped (the time budget, options.stop). Without run_cap (and not grid) only a
// target or a stop ends it. A stop starts no trial; each running one ends after its current epoch,
// saved and waiting, and the next run continues it from there; paused trials stay paused. On the
// CPU backend, settings.cpu_run_cap replaces run_cap and settings.cpu_max_epochs caps the epochs.
// Diverged and failed trials are recorded as failed with their reason.
StudyResult run_study(const StudyConfig& config, const StudyOptions& options, const ProgressCallback& progress = {});
StudyResult run_study(const StudyConfig& config, const StudyOptions& options, StudyParts parts,
                      const ProgressCallback& progress = {});

}  // namespace mlptune::tune
