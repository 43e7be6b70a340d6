// Helpers the schedulers share: comparing values for a goal, values at an epoch, rung rankings.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "mlptune/tune/frozen_trial.hpp"

namespace mlptune::tune {

// a is strictly better than b for the goal.
inline bool better(double a, double b, Goal goal) {
  return goal == Goal::minimize ? a < b : a > b;
}

std::optional<double> value_at(const FrozenTrial& trial, int epoch);
// The epoch a paused trial stopped at (its last reported one); 0 for others.
int paused_epoch(const FrozenTrial& trial);

struct RungEntry {
  int number = 0;
  double value = 0.0;
};
// Every trial with a value at `epoch`, best first; ties by number.
std::vector<RungEntry> rank_at(std::span<const FrozenTrial> trials, int epoch, Goal goal);
// The first `count` entries' trial numbers.
std::vector<int> top_numbers(const std::vector<RungEntry>& ranked, std::size_t count);

}  // namespace mlptune::tune
