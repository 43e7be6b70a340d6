// What every storage decides the same way, whatever the database: names of states and goals as
// stored, when a running trial's owner is gone, the message of a trial abandoned too often, and
// which complete trial is the best.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mlptune/tune/storage.hpp"
#include "tune/unix_now.hpp"  // the storages' clock, for their users

namespace mlptune::tune {

std::string state_name(RunState state);
RunState state_from_name(const std::string& name);  // throws StorageError for a name it does not know
std::string goal_name(Goal goal);
Goal goal_from_name(const std::string& name);  // anything but "maximize" has always read as minimize

// Whether the owner of a running trial is gone, as `me` sees it at `now`: on this host, a dead
// process or an earlier run in this process (another token); elsewhere, a heartbeat older than
// `stale_after_seconds`.
bool owner_gone(const TrialRecord& record, const TrialOwner& me, double now, double stale_after_seconds);

// Why an abandoned trial is failed rather than requeued again: "abandoned by its worker 4 times
// without progress (last: host h, pid 12, no heartbeat for 31 s); not retried again (--max-retries 3)".
std::string abandoned_too_often_message(const TrialRecord& record, int max_retries, double now);

// Which trial a claim takes, from the study's trials by number: the lowest-numbered requeued one
// (waiting, not paused; it continues from its checkpoint when it has one), else a new trial numbered
// one past the highest while the study has fewer than `run_cap` trials (0: no cap). Nullopt:
// nothing to run.
struct ClaimChoice {
  int number = 0;
  bool is_new = false;      // the sampler makes it
  bool fresh_start = true;  // false: it continues from its checkpoint, and keeps its start time
};
std::optional<ClaimChoice> choose_claim(std::span<const TrialRecord> records, int run_cap);

// The trials of `records`, as the sampler sees them.
std::vector<FrozenTrial> frozen_copies(std::span<const TrialRecord> records);

// The number of the best complete trial with a value (the lower number on a tie), if any.
std::optional<int> best_complete_number(std::span<const FrozenTrial> trials, Goal goal);

}  // namespace mlptune::tune
