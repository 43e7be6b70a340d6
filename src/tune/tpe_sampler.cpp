// TPE as Optuna's TPESampler (v5 defaults) implements it: random start-up trials, then the best
// gamma(n) trials form l(x), the rest (and running trials: the constant liar) g(x); candidates drawn
// from l(x), the one with the largest l(x)/g(x) wins. Multivariate: one joint kernel per trial.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "tune/sampler_internal.hpp"
#include "tune/search_space_math.hpp"
#include "tune/tpe_parzen.hpp"

namespace mlptune::tune::sampling {
namespace {

constexpr std::uint64_t kTpeStream = 0x545045ull;

// Optuna's default_gamma: the number of trials in the good group.
std::size_t good_count(std::size_t finished) {
  constexpr std::size_t kMaxGood = 25;
  return std::min<std::size_t>((finished + 9) / 10, kMaxGood);
}

// Lower is better. NaN values rank last.
double badness(double value, Goal goal) {
  if (std::isnan(value)) return std::numeric_limits<double>::infinity();
  return goal == Goal::minimize ? value : -value;
}

// Optuna's _get_pruned_trial_score: trials pruned later rank first, then by their last value.
std::pair<double, double> pruned_rank(const FrozenTrial& trial, Goal goal) {
  if (trial.intermediate.empty()) return {1.0, 0.0};
  const auto& [step, value] = *trial.intermediate.rbegin();
  return {-static_cast<double>(step), badness(value, goal)};
}

struct Split {
  std::vector<const FrozenTrial*> good;
  std::vector<const FrozenTrial*> bad;
};

// Optuna's _split_trials: complete trials by value, then pruned ones by pruned_rank, fill the good group.
Split split_trials(std::span<const FrozenTrial> trials, int number, Goal goal, bool constant_liar) {
  std::vector<const FrozenTrial*> complete, pruned, running;
  for (const auto& trial : trials) {
    if (trial.number == number) continue;
    if (trial.state == RunState::complete && trial.value) complete.push_back(&trial);
    if (trial.state == RunState::pruned) pruned.push_back(&trial);
    if (trial.state == RunState::running && constant_liar) running.push_back(&trial);
  }
  const auto by_number = [](const FrozenTrial* a, const FrozenTrial* b) { return a->number < b->number; };
  std::sort(complete.begin(), complete.end(), by_number);
  std::sort(pruned.begin(), pruned.end(), by_number);
  std::stable_sort(complete.begin(), complete.end(), [&](const FrozenTrial* a, const FrozenTrial* b) {
    return badness(*a->value, goal) < badness(*b->value, goal);
  });
  std::stable_sort(pruned.begin(), pruned.end(), [&](const FrozenTrial* a, const FrozenTrial* b) {
    return pruned_rank(*a, goal) < pruned_rank(*b, goal);
  });
  std::size_t wanted = good_count(complete.size() + pruned.size());
  Split split;
  for (const auto* group : {&complete, &pruned}) {
    const std::size_t taken = std::min(wanted, group->size());
    split.good.insert(split.good.end(), group->begin(), group->begin() + static_cast<std::ptrdiff_t>(taken));
    split.bad.insert(split.bad.end(), group->begin() + static_cast<std::ptrdiff_t>(taken), group->end());
    wanted -= taken;
  }
  split.bad.insert(split.bad.end(), running.begin(), running.end());
  std::sort(split.good.begin(), split.good.end(), by_number);
  std::sort(split.bad.begin(), split.bad.end(), by_number);
  return split;
}

std::size_t finished_count(std::span<const FrozenTrial> trials, int number) {
  return static_cast<std::size_t>(std::count_if(trials.begin(), trials.end(), [&](const FrozenTrial& trial) {
    return trial.number != number &&
           ((trial.state == RunState::complete && trial.value) || trial.state == RunState::pruned);
  }));
}

tpe::Dimension dimension_of(const Distribution& distribution) {
  tpe::Dimension dimension;
  if (space::is_categorical(distribution)) {
    const std::size_t choices = distribution.values.size();
    dimension.categorical = true;
    dimension.choice_prior = distribution.probabilities.empty()
                                 ? std::vector<double>(choices, 1.0 / static_cast<double>(choices))
                                 : distribution.probabilities;
    return dimension;
  }
  const space::InternalRange range = space::internal_range(distribution);
  dimension.low = range.low;
  dimension.high = range.high;
  dimension.step = range.step;
  return dimension;
}

// Trials whose every searched parameter maps into this space, as rows of internal coordinates.
std::vector<double> observations_of(const std::vector<const FrozenTrial*>& trials,
                                    const std::vector<const ParameterSpec*>& searched) {
  std::vector<double> rows;
  std::vector<double> row(searched.size());
  for (const FrozenTrial* trial : trials) {
    bool complete_row = true;
    for (std::size_t d = 0; d < searched.size() && complete_row; ++d) {
      const auto found = trial->params.find(searched[d]->name);
      const auto z = found == trial->params.end()
                         ? std::nullopt
                         : space::internal_from_value(searched[d]->distribution, found->second);
      complete_row = z.has_value();
      if (z) row[d] = *z;
    }
    if (complete_row) rows.insert(rows.end(), row.begin(), row.end());
  }
  return rows;
}

class TpeSampler final : public Sampler {
 public:
  explicit TpeSampler(const SamplerOptions& options) : options_(options) {}

  Params sample(const SearchSpace& space, std::span<const FrozenTrial> trials, Goal goal, int number) override {
    if (finished_count(trials, number) < static_cast<std::size_t>(std::max(options_.n_startup_trials, 1)))
      return random_params(space, options_.seed, number);
    Params params;
    std::vector<const ParameterSpec*> searched;
    std::vector<tpe::Dimension> dimensions;
    for (const auto& parameter : space.parameters) {
      if (space::is_constant(parameter.distribution)) {
        params[parameter.name] = parameter.distribution.values.front();
        continue;
      }
      searched.push_back(&parameter);
      dimensions.push_back(dimension_of(parameter.distribution));
    }
    if (searched.empty()) return params;
    const Split split = split_trials(trials, number, goal, options_.constant_liar);
    const tpe::ParzenEstimator good(dimensions, observations_of(split.good, searched));
    const tpe::ParzenEstimator bad(dimensions, observations_of(split.bad, searched));
    const std::vector<double> best = best_candidate(good, bad, searched.size(), number);
    for (std::size_t d = 0; d < searched.size(); ++d)
      params[searched[d]->name] = space::value_from_internal(searched[d]->distribution, best[d]);
    return params;
  }

 private:
  std::vector<double> best_candidate(const tpe::ParzenEstimator& good, const tpe::ParzenEstimator& bad,
                                     std::size_t width, int number) const {
    UnitStream draws(rng::hash(options_.seed, kTpeStream, static_cast<std::uint64_t>(number)), kTpeStream);
    const std::vector<double> candidates = good.sample(draws, std::max(options_.n_ei_candidates, 1));
    const std::vector<double> log_good = good.log_pdf(candidates);
    const std::vector<double> log_bad = bad.log_pdf(candidates);
    std::size_t best = 0;
    for (std::size_t i = 1; i < log_good.size(); ++i)
      if (log_good[i] - log_bad[i] > log_good[best] - log_bad[best]) best = i;
    return {candidates.begin() + static_cast<std::ptrdiff_t>(best * width),
            candidates.begin() + static_cast<std::ptrdiff_t>((best + 1) * width)};
  }

  SamplerOptions options_;
};

}  // namespace

std::unique_ptr<Sampler> make_tpe_sampler(const SamplerOptions& options) {
  return std::make_unique<TpeSampler>(options);
}

}  // namespace mlptune::tune::sampling
