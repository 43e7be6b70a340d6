// The storage rules every database shares (see storage_rules.hpp).
#include "tune/storage_rules.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/process.hpp"
#include "tune/enum_names.hpp"

namespace mlptune::tune {

std::string state_name(RunState state) {
  return std::string(to_string(state));
}

RunState state_from_name(const std::string& name) {
  if (const auto* entry = kRunStateNames.find(name)) return entry->value;
  throw StorageError("stored trial state '" + name + "' is unknown; the database was written by another program");
}

std::string goal_name(Goal goal) {
  return std::string(to_string(goal));
}

Goal goal_from_name(const std::string& name) {
  const auto* entry = kGoalNames.find(name);
  return entry ? entry->value : Goal::minimize;
}

bool owner_gone(const TrialRecord& record, const TrialOwner& me, double now, double stale_after_seconds) {
  const TrialOwner& owner = record.owner;
  if (owner.host == me.host) {
    if (owner.pid == me.pid) return owner.token != me.token;
    return !process_alive(owner.pid);
  }
  return now - record.heartbeat > stale_after_seconds;
}

std::string abandoned_too_often_message(const TrialRecord& record, int max_retries, double now) {
  const TrialOwner& owner = record.owner;
  const long silent = std::lround(std::max(0.0, now - record.heartbeat));
  return "abandoned by its worker " + std::to_string(record.retries + 1) + " times without progress (last: host " +
         owner.host + ", pid " + std::to_string(owner.pid) + ", no heartbeat for " + std::to_string(silent) +
         " s); not retried again (--max-retries " + std::to_string(max_retries) + ")";
}

std::optional<ClaimChoice> choose_claim(std::span<const TrialRecord> records, int run_cap) {
  const auto requeued = std::find_if(records.begin(), records.end(), [](const TrialRecord& record) {
    return record.trial.state == RunState::waiting && record.trial.paused_epoch == 0;
  });
  if (requeued != records.end()) return ClaimChoice{requeued->trial.number, false, requeued->checkpoint_epoch == 0};
  if (run_cap > 0 && std::ssize(records) >= run_cap) return std::nullopt;
  return ClaimChoice{records.empty() ? 0 : records.back().trial.number + 1, true, true};
}

std::vector<FrozenTrial> frozen_copies(std::span<const TrialRecord> records) {
  std::vector<FrozenTrial> trials;
  trials.reserve(records.size());
  for (const auto& record : records) trials.push_back(record.trial);
  return trials;
}

std::optional<int> best_complete_number(std::span<const FrozenTrial> trials, Goal goal) {
  const FrozenTrial* best = nullptr;
  for (const FrozenTrial& trial : trials) {
    if (trial.state != RunState::complete || !trial.value || std::isnan(*trial.value)) continue;
    const bool better = best == nullptr ||
                        (goal == Goal::minimize ? *trial.value < *best->value : *trial.value > *best->value) ||
                        (*trial.value == *best->value && trial.number < best->number);
    if (better) best = &trial;
  }
  if (best == nullptr) return std::nullopt;
  return best->number;
}

}  // namespace mlptune::tune
