// What every storage decides the same way, whatever the database: names of states and goals as
// stored, when a running trial's owner is gone, the message of a trial abandoned too often, and
// which complete trial is the best.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "mlptune/tune/storage.hpp"

namespace mlptune::tune {

double unix_now();

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

// The number of the best complete trial with a value (the lower number on a tie), if any.
std::optional<int> best_complete_number(std::span<const FrozenTrial> trials, Goal goal);

}  // namespace mlptune::tune
