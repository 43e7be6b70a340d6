// The tuner's vocabulary: parameter values, search spaces as parsed from a W&B Sweeps YAML file,
// study configuration, finished/running trials as the samplers and schedulers see them, and the
// Sampler interface.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "mlptune/backend.hpp"

namespace mlptune::tune {

// A hyperparameter value: integers, reals, or names (categorical choices such as "relu", and
// lists such as hidden "256,128" kept as their text).
using ParamValue = std::variant<std::int64_t, double, std::string>;
using Params = std::map<std::string, ParamValue>;
std::string to_string(const ParamValue& value);

// The W&B Sweeps distributions (REFERENCE.md), plus constant and categorical.
enum class DistributionKind {
  constant,                // value
  categorical,             // values (+ probabilities)
  int_uniform,             // min/max integers
  uniform,                 // min/max reals
  q_uniform,               // round(uniform / q) * q
  log_uniform,             // min/max are natural-log exponents: exp(uniform(min, max))
  log_uniform_values,      // min/max are values > 0
  q_log_uniform,
  q_log_uniform_values,
  inv_log_uniform,         // 1 / exp(uniform(min, max))
  inv_log_uniform_values,  // 1 / log_uniform_values(1/max, 1/min)
  normal,                  // mu, sigma
  q_normal,
  log_normal,              // exp(normal(mu, sigma))
  q_log_normal,
  beta,                    // a, b
  q_beta,
};
std::string_view to_string(DistributionKind);

struct Distribution {
  DistributionKind kind = DistributionKind::constant;
  double min = 0.0;
  double max = 0.0;
  double q = 1.0;
  double mu = 0.0;
  double sigma = 1.0;
  double a = 1.0;
  double b = 1.0;
  bool integer = false;                // values are integers (int_uniform; q_* with integer q and bounds)
  std::vector<ParamValue> values;      // constant (one), categorical (choices)
  std::vector<double> probabilities;   // categorical, optional; sums to 1
};

struct ParameterSpec {
  std::string name;
  Distribution distribution;
  int line = 0;  // line in the YAML file, for messages
};

struct SearchSpace {
  std::vector<ParameterSpec> parameters;  // in file order
  const ParameterSpec* find(std::string_view name) const;
};

enum class Method { grid, random, bayes, sobol };  // bayes = TPE
enum class Goal { minimize, maximize };
std::string_view to_string(Method);
std::string_view to_string(Goal);

struct MetricSpec {
  std::string name = "validation_loss";  // validation_loss | validation_accuracy | validation_rmse | train_loss (aliases: val_loss, val_accuracy, accuracy, loss)
  Goal goal = Goal::minimize;
  std::optional<double> target;          // stop the study once reached
};

// Pruning. W&B's early_terminate only knows hyperband; mlptune also accepts median and asha.
enum class PrunerKind { none, median, asha, hyperband };
std::string_view to_string(PrunerKind);
struct EarlyTerminate {
  PrunerKind type = PrunerKind::none;
  int min_iter = 0;   // epochs of the first rung
  int max_iter = 0;   // epochs of the last rung (R)
  int s = 0;          // W&B: number of brackets when given with max_iter
  double eta = 3.0;
  bool strict = false;
  int warmup_epochs = 0;      // median: epochs before pruning may start
  int startup_trials = 5;     // median: trials that are never pruned
};

// mlptune's own section (top-level key "mlptune").
struct StudySettings {
  std::string dataset = "digits";     // bundled name
  std::string data_path;              // or a user's file (as `mlptune train --data`)
  std::string label_column;           // CSV
  BackendKind backend = BackendKind::automatic;
  int concurrency = 0;                // 0: the backend's recommendation
  std::uint64_t seed = 0;             // study seed; trial seeds derive from it and the number
  std::string storage;                // SQLite file; default "<config stem>.db" beside the config
  std::string study_name;             // default: config `name`, else the config file's stem
  // Per-device budget overrides: on the CPU the main job must end within minutes.
  std::optional<int> cpu_run_cap;
  std::optional<int> cpu_max_epochs;
  int n_startup_trials = 10;          // TPE
  double checkpoint_every_seconds = 30.0;  // checkpoint_every: between a running trial's checkpoints
};

struct StudyConfig {
  std::string name;
  std::string description;
  Method method = Method::random;
  MetricSpec metric;
  SearchSpace space;
  EarlyTerminate early_terminate;
  int run_cap = 0;  // 0: grid = all points; otherwise required
  StudySettings settings;
  std::string source;  // path or name, for messages
};

// Parse and validate. Throws ConfigError naming the key, its line and the fix:
// unknown keys, wrong types, min >= max, log ranges with min <= 0, grid over a continuous range,
// empty values, probabilities that do not sum to 1.
StudyConfig parse_study_config(const std::string& yaml_text, const std::string& source_name);
StudyConfig load_study_config(const std::string& path);

enum class RunState { running, complete, pruned, failed, waiting };  // Optuna's TrialState order
std::string_view to_string(RunState);

// A trial as samplers, schedulers and reports see it: an immutable snapshot.
struct FrozenTrial {
  int number = 0;
  RunState state = RunState::running;
  Params params;
  std::optional<double> value;             // the metric (as reported, not negated)
  std::map<int, double> intermediate;      // epoch -> metric
  int paused_epoch = 0;                    // waiting at a scheduler's rung after this epoch (0: not paused)
  std::uint64_t seed = 0;
  std::string message;                     // failure or divergence reason
  double started_at = 0.0;                 // unix seconds
  double finished_at = 0.0;
};

// A sampler only samples. `trials` holds every trial of the study so far, running ones
// included (TPE treats those as bad: the constant liar). Same seed and same history: same result.
class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual Params sample(const SearchSpace& space, std::span<const FrozenTrial> trials, Goal goal, int number) = 0;
  // Grid: the number of points (0 for samplers without an end).
  virtual std::int64_t size(const SearchSpace&) const { return 0; }
};

struct SamplerOptions {
  std::uint64_t seed = 0;
  int n_startup_trials = 10;  // TPE
  int n_ei_candidates = 24;   // TPE
  bool constant_liar = true;  // TPE
};
std::unique_ptr<Sampler> make_sampler(Method method, const SamplerOptions& options);

}  // namespace mlptune::tune
