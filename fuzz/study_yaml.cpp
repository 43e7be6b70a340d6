// Fuzzes the study configuration parser (W&B Sweeps YAML plus the mlptune section) and what a study
// builds from a parsed config before training: the sampler, the scheduler, trial settings and the
// reproducing `mlptune train` line.
#include <span>

#include "fuzz_support.hpp"
#include "mlptune/tune/scheduler.hpp"
#include "mlptune/tune/study.hpp"

using namespace mlptune;
using namespace mlptune::tune;

namespace {

// A few trials, as a study starting on this config would sample them (TPE sees earlier ones).
constexpr int kTrials = 4;

const TrialSpec& base_spec() {
  static const TrialSpec spec = [] {
    const DataSplits splits = split_and_scale(make_spirals(40, 0.1, 0), SplitOptions{});
    return default_trial_spec(splits);
  }();
  return spec;
}

void build_study(const StudyConfig& config) {
  check_tunable(config.space);
  parse_metric(config.metric.name);
  const auto sampler =
      make_sampler(config.method, {.seed = config.settings.seed, .n_startup_trials = config.settings.n_startup_trials});
  const std::int64_t grid_points = sampler->size(config.space);
  const int run_cap = config.run_cap > 0 ? config.run_cap : int(std::min<std::int64_t>(grid_points, 1000));
  const auto scheduler =
      make_scheduler(config.early_terminate, config.metric.goal, std::max(run_cap, 1), base_spec().train.epochs);
  scheduler->trials_for_a_full_run();
  std::vector<FrozenTrial> trials;
  for (int number = 0; number < kTrials && (grid_points == 0 || number < grid_points); ++number) {
    FrozenTrial trial{.number = number, .state = RunState::complete};
    trial.params = sampler->sample(config.space, trials, config.metric.goal, number);
    trial.value = 1.0 / (1 + number);
    trial.seed = trial_seed(config.settings.seed, number);
    TrialSpec spec = params_to_spec(trial.params, base_spec());
    spec.train.seed = trial.seed;
    train_command_line(spec, {config.settings.dataset, config.settings.data_path, config.settings.label_column},
                       BackendKind::cpu);
    trials.push_back(std::move(trial));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expected_errors([&] {
    build_study(parse_study_config(text, "study.yaml"));
    return true;
  });
  return 0;
}
