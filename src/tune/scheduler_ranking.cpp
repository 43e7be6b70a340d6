// Helpers the schedulers share: comparing values for a goal, values at an epoch, rung rankings.
#include "tune/scheduler_ranking.hpp"

#include <algorithm>
#include <cmath>

#include "mlptune/tune/storage.hpp"

namespace mlptune::tune {

std::optional<double> value_at(const FrozenTrial& trial, int epoch) {
  const auto found = trial.intermediate.find(epoch);
  if (found == trial.intermediate.end() || std::isnan(found->second)) return std::nullopt;
  return found->second;
}

int paused_epoch(const FrozenTrial& trial) {
  return is_paused(trial) ? trial.paused_epoch : 0;
}

std::vector<RungEntry> rank_at(std::span<const FrozenTrial> trials, int epoch, Goal goal) {
  std::vector<RungEntry> ranked;
  for (const FrozenTrial& trial : trials)
    if (auto value = value_at(trial, epoch)) ranked.push_back({trial.number, *value});
  std::sort(ranked.begin(), ranked.end(), [goal](const RungEntry& a, const RungEntry& b) {
    if (a.value != b.value) return better(a.value, b.value, goal);
    return a.number < b.number;
  });
  return ranked;
}

std::vector<int> top_numbers(const std::vector<RungEntry>& ranked, std::size_t count) {
  std::vector<int> numbers;
  for (std::size_t i = 0; i < std::min(count, ranked.size()); ++i) numbers.push_back(ranked[i].number);
  return numbers;
}

}  // namespace mlptune::tune
