// Optuna's MedianPruner: stop a trial whose best value so far is worse than the median of the
// completed trials' values at the same epoch.
#include <algorithm>
#include <cmath>
#include <limits>

#include "mlptune/tune/scheduler.hpp"
#include "tune/scheduler_ranking.hpp"

namespace mlptune::tune {
namespace {

// numpy.percentile(values, 50) with linear interpolation: the mean of the middle pair for even counts.
double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const double position = 0.5 * double(values.size() - 1);
  const auto lower = std::size_t(std::floor(position));
  const auto upper = std::size_t(std::ceil(position));
  return values[lower] + (values[upper] - values[lower]) * (position - double(lower));
}

// Optuna's _get_best_intermediate_result_over_steps: NaN when every value is NaN.
double best_so_far(const FrozenTrial& trial, Goal goal) {
  double best = std::numeric_limits<double>::quiet_NaN();
  for (const auto& [epoch, value] : trial.intermediate)
    if (!std::isnan(value) && (std::isnan(best) || better(value, best, goal))) best = value;
  return best;
}

class MedianPruner final : public Scheduler {
 public:
  MedianPruner(Goal goal, int startup_trials, int warmup_epochs)
      : goal_(goal), startup_trials_(startup_trials), warmup_epochs_(warmup_epochs) {}

  std::string name() const override { return "median"; }

  Decision judge(const FrozenTrial& trial, int epoch, std::span<const FrozenTrial> trials) const override {
    std::vector<const FrozenTrial*> completed;
    for (const FrozenTrial& other : trials)
      if (other.state == RunState::complete && other.number != trial.number) completed.push_back(&other);
    if (completed.empty() || int(completed.size()) < startup_trials_) return Decision::proceed;
    if (epoch <= warmup_epochs_) return Decision::proceed;
    const double best = best_so_far(trial, goal_);
    if (std::isnan(best)) return Decision::stop;
    std::vector<double> at_epoch;
    for (const FrozenTrial* other : completed)
      if (auto value = value_at(*other, epoch)) at_epoch.push_back(*value);
    if (at_epoch.empty()) return Decision::proceed;
    return better(median(at_epoch), best, goal_) ? Decision::stop : Decision::proceed;
  }

 private:
  Goal goal_;
  int startup_trials_;
  int warmup_epochs_;
};

}  // namespace

std::unique_ptr<Scheduler> make_median_pruner(Goal goal, int startup_trials, int warmup_epochs) {
  return std::make_unique<MedianPruner>(goal, startup_trials, warmup_epochs);
}

}  // namespace mlptune::tune
