// Choosing a scheduler from the configuration's early_terminate section, and the one that never prunes.
#include "mlptune/tune/scheduler.hpp"

#include <string>

#include "common/count_text.hpp"
#include "mlptune/error.hpp"

namespace mlptune::tune {
namespace {

class NoPruning final : public Scheduler {
 public:
  std::string name() const override { return "none"; }
  Decision judge(const FrozenTrial&, int, std::span<const FrozenTrial>) const override { return Decision::proceed; }
};

// W&B: max_iter with s gives s halvings below max_iter; min_iter gives as many as fit above it.
int hyperband_brackets_below(const EarlyTerminate& settings, int max_iter) {
  if (settings.s > 0) return settings.s;
  return hyperband_s_max(max_iter, std::max(1, settings.min_iter), settings.eta);
}

}  // namespace

std::unique_ptr<Scheduler> make_no_pruning() {
  return std::make_unique<NoPruning>();
}

std::unique_ptr<Scheduler> make_scheduler(const EarlyTerminate& settings, Goal goal, int run_cap, int trial_epochs) {
  const int max_iter = settings.max_iter > 0 ? settings.max_iter : trial_epochs;
  const bool has_rungs = settings.type == PrunerKind::hyperband || settings.type == PrunerKind::asha;
  if (has_rungs && settings.min_iter > max_iter)
    throw ConfigError("early_terminate.min_iter " + std::to_string(settings.min_iter) + " is more than the " +
                      count_text(max_iter, "epoch") +
                      " trials train here (max_iter, else the most epochs the space gives, capped on the CPU "
                      "by mlptune.cpu_max_epochs): lower min_iter");
  switch (settings.type) {
    case PrunerKind::none:
      return make_no_pruning();
    case PrunerKind::median:
      return make_median_pruner(goal, settings.startup_trials, settings.warmup_epochs);
    case PrunerKind::asha:
      return make_asha(goal, std::max(1, settings.min_iter), max_iter, settings.eta);
    case PrunerKind::hyperband:
      return make_hyperband(goal, max_iter, settings.eta, hyperband_brackets_below(settings, max_iter), run_cap);
  }
  throw ConfigError("early_terminate.type is unknown: use hyperband, asha, median or leave it out");
}

}  // namespace mlptune::tune
