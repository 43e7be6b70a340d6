// Trials as samplers, schedulers and reports see them: immutable snapshots with their state, and
// the goal their values are compared by.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "mlptune/tune/search_space.hpp"

namespace mlptune::tune {

enum class Goal { minimize, maximize };
std::string_view to_string(Goal);

enum class RunState { running, complete, pruned, failed, waiting };  // Optuna's TrialState order
std::string_view to_string(RunState);

// A trial as samplers, schedulers and reports see it: an immutable snapshot.
struct FrozenTrial {
  int number = 0;
  RunState state = RunState::running;
  Params params;
  std::optional<double> value;         // the metric (as reported, not negated)
  std::map<int, double> intermediate;  // epoch -> metric
  int paused_epoch = 0;                // waiting at a scheduler's rung after this epoch (0: not paused)
  std::uint64_t seed = 0;
  std::string message;      // failure or divergence reason
  double started_at = 0.0;  // unix seconds
  double finished_at = 0.0;
};

}  // namespace mlptune::tune
