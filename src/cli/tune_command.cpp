// `mlptune tune CONFIG.yaml`: runs (or resumes) a tuning study with a live view, and ends with the
// leaderboard and the best configuration as an `mlptune train` command line.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/live_view.hpp"
#include "cli/options.hpp"
#include "cli/stop_signals.hpp"
#include "cli/text.hpp"
#include "common/count_text.hpp"
#include "common/shell_quote.hpp"
#include "common/size_limits.hpp"
#include "common/text_list.hpp"
#include "common/value_range.hpp"
#include "mlptune/error.hpp"
#include "mlptune/tune/report.hpp"
#include "mlptune/tune/study.hpp"
#include "tune/checkpoint_interval.hpp"
#include "tune/heartbeat.hpp"
#include "tune/study_timeout.hpp"

namespace mlptune::cli {
namespace {

// Seconds within `range`, stated as the settings state theirs; CLI11's Range lets NaN through.
CLI::Validator seconds_in(const Range& range) {
  return CLI::Validator(
      [range](std::string& text) -> std::string {
        if (range.contains(std::strtod(text.c_str(), nullptr))) return "";
        return "must be a number of seconds " + range.describe() + " (got " + text + ")";
      },
      "");
}

CLI::Validator timeout_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string { return tune::parse_timeout(text) ? "" : tune::timeout_problem(text); },
      "");
}

struct TuneCommandOptions {
  std::string config_path;
  std::string storage_path;
  int concurrency = 0;
  std::string backend;
  int top = 10;
  bool quiet = false;
  std::optional<double> checkpoint_every_seconds;
  double heartbeat_interval_seconds = tune::kHeartbeatIntervalSeconds;
  std::optional<double> stale_after_seconds;
  int max_retries = tune::StudyOptions{}.max_retries;
  bool allow_config_change = false;
  std::string timeout;
  std::string test_data_path;
  std::string journal_path;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot read the study configuration (check the path)");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// After a stop: what was kept and how to go on.
std::string stop_summary(const tune::StudyResult& result, const TuneCommandOptions& options) {
  std::string text = "stopped early: " + result.stop_reason + ".";
  if (!result.suspended.empty()) {
    std::vector<int> numbers = result.suspended;
    std::sort(numbers.begin(), numbers.end());
    const bool one = numbers.size() == 1;
    text += (one ? " Trial " : " Trials ") + join(numbers, ", ") +
            (one ? " was saved after its" : " were saved after their") + " last epoch, to continue from there.";
  }
  if (result.progress.paused > 0)
    text += " " + count_text(result.progress.paused, "trial") +
            (result.progress.paused == 1 ? " waits paused at its rung." : " wait paused at their rungs.");
  std::string command = "mlptune tune " + shell_quoted(options.config_path);
  if (!options.storage_path.empty()) command += " --storage " + shell_quoted(options.storage_path);
  return text + "\nTo continue the study, run the same command again: " + command + "\n";
}

// --test-data as if the config's mlptune section said test_data, so the stored configuration holds
// it and a rerun with another test file counts as a changed study. The text has been parsed whole.
std::string with_test_data(const std::string& yaml_text, const std::string& test_data_path) {
  YAML::Node root = YAML::Load(yaml_text);
  root["mlptune"]["test_data"] = test_data_path;
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

int run_tune(const TuneCommandOptions& options) {
  const auto stop = std::make_shared<tune::StopRequest>();
  const StopSignals signals(stop);  // a first Ctrl-C stops gracefully even while the data loads
  tune::StudyConfig config = tune::load_study_config(options.config_path);
  tune::StudyOptions study_options;
  study_options.config_yaml = read_text(options.config_path);
  if (!options.test_data_path.empty()) {
    if (config.settings.data_path.empty())
      throw ConfigError("--test-data goes with a training file of your own (mlptune.data in " + options.config_path +
                        "); the bundled sets bring their own splits");
    study_options.config_yaml = with_test_data(study_options.config_yaml, options.test_data_path);
    config = tune::parse_study_config(study_options.config_yaml, options.config_path);
  }
  if (!options.storage_path.empty()) study_options.storage_path = options.storage_path;
  if (options.concurrency > 0) study_options.concurrency = options.concurrency;
  if (!options.backend.empty()) study_options.backend = parse_backend_kind(options.backend);
  if (options.checkpoint_every_seconds) study_options.checkpoint_every_seconds = options.checkpoint_every_seconds;
  study_options.heartbeat_interval_seconds = options.heartbeat_interval_seconds;
  study_options.stale_after_seconds = options.stale_after_seconds;
  study_options.max_retries = options.max_retries;
  study_options.allow_config_change = options.allow_config_change;
  if (!options.timeout.empty()) study_options.timeout_seconds = tune::parse_timeout(options.timeout);
  study_options.stop = stop;
  study_options.journal_path = options.journal_path;

  // Quiet runs still show warnings (on stderr): they say why a study's result may disappoint.
  const auto warnings_only = [](const tune::StudyProgress& progress) {
    if (progress.event.starts_with("warning:")) std::cerr << progress.event << std::endl;
  };
  if (!config.metric.named && !options.quiet)
    std::cout << "metric: " << config.metric.name << ", "
              << (config.metric.goal == tune::Goal::minimize ? "minimized" : "maximized")
              << " (the default: " << options.config_path
              << " names no metric; choose one with e.g. metric: {name: validation_accuracy, goal: maximize})"
              << std::endl;
  tune::StudyResult result;
  {
    LiveView view(config.metric.name);
    result =
        tune::run_study(config, study_options,
                        options.quiet ? tune::ProgressCallback(warnings_only) : tune::ProgressCallback(std::ref(view)));
  }
  auto storage = tune::open_storage(result.storage_path.string());
  std::cout << "\nstudy " << result.study.name << " on " << result.backend_name << ", "
            << count_text(result.slots, "trial") << " at once; stored in " << storage->location() << "\n";
  if (result.target_reached) std::cout << "metric target reached\n";

  std::cout << tune::format_report(tune::make_report(*storage, result.study.name, options.top));
  if (result.best && !result.best_weights.empty() && std::filesystem::exists(result.best_weights))
    std::cout << "best trial's weights: " << result.best_weights.string() << "\n";
  else if (result.best && storage->best_weights(result.study.id))
    std::cout << "best trial's weights: in the database; mlptune export " << shell_quoted(storage->location())
              << " --study-name " << shell_quoted(result.study.name) << " --best-weights FILE writes them\n";
  if (result.stopped_by != tune::StopCause::none) std::cout << stop_summary(result, options) << std::flush;
  return exit_status_for(stop->cause());
}

}  // namespace

Command add_tune_command(CLI::App& app) {
  auto options = std::make_shared<TuneCommandOptions>();
  CLI::App* command =
      app.add_subcommand("tune", "Run or resume a hyperparameter study from a W&B Sweeps-style YAML file");
  command->footer(
      "Running the same command again resumes the study: finished trials are kept, interrupted ones run again.\n"
      "A first Ctrl-C or SIGTERM (or the --timeout) starts no more trials and saves the running ones at their next\n"
      "epoch end (exit status 130, 143, or 0 for the timeout); a second one quits at once.\n"
      "Several processes may share one study file, and workers on many machines one PostgreSQL study\n"
      "(--storage postgresql://user@host:port/dbname, the password in PGPASSWORD).\n"
      "Example: mlptune tune experiments/mnist.yaml");
  command->add_option("config", options->config_path, "the study configuration (YAML)")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option(
      "--storage", options->storage_path,
      "the study's storage: an SQLite file (one machine), or postgresql://user:password@host:port/dbname "
      "shared by workers on many machines (default: the config's mlptune.storage, else CONFIG.db)");
  command->add_option("--concurrency", options->concurrency, "trials at once (default: from the hardware)")
      ->check(whole_number(1, kMaxConcurrency));
  command->add_option("--backend", options->backend, backend_help("overrides the config's mlptune.backend"))
      ->check(backend_check());
  command->add_option("--top", options->top, "rows of the final leaderboard")
      ->check(whole_number(1))
      ->capture_default_str();
  command->add_flag("--quiet,-q", options->quiet, "no live view; only the final report");
  command
      ->add_option("--checkpoint-every", options->checkpoint_every_seconds,
                   "seconds between checkpoints of a running trial, at epoch ends (0: every epoch); a study "
                   "killed and run again continues each trial from its last one")
      ->check(real_number() & seconds_in(tune::kCheckpointIntervalSeconds))
      ->capture_default_str();
  command
      ->add_option("--heartbeat-interval", options->heartbeat_interval_seconds,
                   "seconds between refreshes of the running trials' heartbeat in the storage, from a thread of "
                   "their own, however long an epoch takes")
      ->check(real_number() & seconds_in(tune::kHeartbeatIntervalRange))
      ->capture_default_str();
  command
      ->add_option("--stale-after", options->stale_after_seconds,
                   "seconds without a heartbeat after which another host's running trial counts as abandoned and "
                   "runs again (default: 3 heartbeat intervals)")
      ->check(real_number() & seconds_in(tune::kStaleAfterRange));
  command
      ->add_option("--max-retries", options->max_retries,
                   "times an abandoned trial runs again before it stays failed, with the reason")
      ->check(whole_number(0, int(tune::kMaxRetriesRange.high)))
      ->capture_default_str();
  command
      ->add_option("--timeout", options->timeout,
                   "time budget of this run, e.g. 90s, 10m, 1h30m or seconds; after it no trial starts and running "
                   "ones are saved at their next epoch end, to continue in the next run (default: the config's "
                   "mlptune.timeout, else none)")
      ->check(timeout_check());
  command->add_flag("--allow-config-change", options->allow_config_change,
                    "continue a study whose search space, metric, pruner or data changed in the configuration "
                    "(the change is recorded); without it such a rerun is refused");
  command->add_option("--test-data", options->test_data_path,
                      "overrides the config's mlptune.test_data: a file of the mlptune.data file's columns that holds "
                      "the test split");
  command->add_option("--journal", options->journal_path,
                      "Optuna journal file appended as the study runs, for optuna-dashboard FILE (default: the "
                      "config's mlptune.journal; none)");
  return [options] { return run_tune(*options); };
}

}  // namespace mlptune::cli
