// Fuzzes the study configuration parser (W&B Sweeps YAML plus the mlptune section) and what a study
// does with a parsed config before training: the sampler, the scheduler, trial settings, the
// reproducing `mlptune train` line, and storing the sampled trials.
#include <span>

#include "fixed_clock.hpp"
#include "fuzz_support.hpp"
#include "mlptune/tune/scheduler.hpp"
#include "mlptune/tune/storage.hpp"
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

// One storage for the whole run; each config gets a study of its own in it.
Storage& storage() {
  static const std::unique_ptr<Storage> storage = open_sqlite_storage(fuzz::scratch().path() / "studies.db");
  return *storage;
}

// What run_study does before a trial trains: the sampler's params, their distributions, the seed and
// the reproducing command line, claimed and stored by the storage; then the trial is finished.
SampledTrial sample_trial(const StudyConfig& config, Sampler& sampler, std::span<const FrozenTrial> trials,
                          int number) {
  SampledTrial sampled;
  sampled.params = sampler.sample(config.space, trials, config.metric.goal, number);
  for (const auto& [name, value] : sampled.params)
    if (const ParameterSpec* parameter = config.space.find(name)) sampled.distributions[name] = parameter->distribution;
  sampled.seed = trial_seed(config.settings.seed, number);
  TrialSpec spec = params_to_spec(sampled.params, base_spec());
  spec.train.seed = sampled.seed;
  sampled.attributes["command"] = train_command_line(spec, study_data_spec(config.settings), BackendKind::cpu);
  return sampled;
}

void build_study(const StudyConfig& config) {
  check_tunable(config.space);
  parse_metric(config.metric.name);
  const auto sampler =
      make_sampler(config.method, {.seed = config.settings.seed, .n_startup_trials = config.settings.n_startup_trials});
  const std::int64_t grid_points = sampler->size(config.space);
  const int run_cap = config.run_cap > 0 ? config.run_cap : int(std::min<std::int64_t>(grid_points, 1000));
  make_scheduler(config.early_terminate, config.metric.goal, std::max(run_cap, 1), base_spec().train.epochs)
      ->trials_for_a_full_run();
  static int studies = 0;
  const StudyInfo study = storage().open_or_create_study(
      {0, "study-" + std::to_string(++studies), config.metric.goal, "", config.settings.seed, 0.0});
  const int trials = grid_points > 0 ? int(std::min<std::int64_t>(grid_points, kTrials)) : kTrials;
  const TrialOwner owner = fuzz::fixed_owner();
  for (int trial = 0; trial < trials; ++trial) {
    const auto record = storage().claim_trial(study.id, owner, trials, [&](auto history, int number) {
      return sample_trial(config, *sampler, history, number);
    });
    fuzz::require(record.has_value(), "claim_trial found no trial to run below the run cap");
    storage().finish_trial(record->claim(study.id), RunState::complete, 1.0 / (1 + trial), "");
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
