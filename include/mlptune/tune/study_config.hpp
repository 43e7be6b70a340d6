// A study's configuration as parsed from a W&B Sweeps-style YAML file: method, metric, search
// space, pruner, run_cap, and mlptune's own section.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mlptune/backend.hpp"
#include "mlptune/data.hpp"
#include "mlptune/tune/frozen_trial.hpp"
#include "mlptune/tune/sampler.hpp"
#include "mlptune/tune/search_space.hpp"

namespace mlptune::tune {

struct MetricSpec {
  std::string name = "validation_loss";  // validation_loss | validation_accuracy | validation_rmse | train_loss
                                         // (aliases: val_loss, val_accuracy, accuracy, loss)
  Goal goal = Goal::minimize;
  std::optional<double> target;  // stop the study once reached
  bool named = false;            // the configuration names it (metric.name); else the default above
};

// Pruning. W&B's early_terminate only knows hyperband; mlptune also accepts median and asha.
enum class PrunerKind { none, median, asha, hyperband };
std::string_view to_string(PrunerKind);
struct EarlyTerminate {
  PrunerKind type = PrunerKind::none;
  int min_iter = 0;  // epochs of the first rung
  int max_iter = 0;  // epochs of the last rung (R)
  int s = 0;         // W&B: number of brackets when given with max_iter
  double eta = 3.0;
  bool strict = false;
  int warmup_epochs = 0;   // median: epochs before pruning may start
  int startup_trials = 5;  // median: trials that are never pruned
};

// mlptune's own section (top-level key "mlptune").
struct StudySettings {
  std::string dataset = "digits";    // bundled name
  std::string data_path;             // or a user's file (as `mlptune train --data`)
  std::string label_column;          // CSV
  Task task = Task::classification;  // what data_path holds: classes or regression targets
  std::string test_data_path;        // test_data: with data_path, a file of its columns for the test split
  BackendKind backend = BackendKind::automatic;
  int concurrency = 0;     // 0: the backend's recommendation
  std::uint64_t seed = 0;  // study seed; trial seeds derive from it and the number
  std::string storage;     // SQLite file; default "<config stem>.db" beside the config
  std::string study_name;  // default: config `name`, else the config file's stem
  // Per-device budget overrides: on the CPU the main job must end within minutes.
  std::optional<int> cpu_run_cap;
  std::optional<int> cpu_max_epochs;
  int n_startup_trials = 10;               // TPE
  double checkpoint_every_seconds = 30.0;  // checkpoint_every: between a running trial's checkpoints
  // timeout ("10m", "1h30m", 600): after it no trial starts, and running ones stop at their next
  // epoch end, saved, to continue in the next run (which has a fresh budget). None: no time limit.
  std::optional<double> timeout_seconds;
  std::string journal;  // Optuna journal file written as the study runs; empty: none
};

struct StudyConfig {
  std::string name;
  std::string description;
  std::string program;  // W&B's training script: accepted, not run (mlptune trains its own MLP)
  Method method = Method::random;
  MetricSpec metric;
  SearchSpace space;
  EarlyTerminate early_terminate;
  int run_cap = 0;  // 0: grid = all points; other methods run until stopped (a timeout, Ctrl-C)
  StudySettings settings;
  std::string source;  // path or name, for messages
};

// Parse and validate. Throws ConfigError naming the key, its line and the fix:
// unknown keys, wrong types, min >= max, log ranges with min <= 0, grid over a continuous range,
// empty values, probabilities that do not sum to 1.
StudyConfig parse_study_config(const std::string& yaml_text, const std::string& source_name);
StudyConfig load_study_config(const std::string& path);

// The data a study's settings name, as `mlptune train` would load it.
DataSpec study_data_spec(const StudySettings& settings);

}  // namespace mlptune::tune
