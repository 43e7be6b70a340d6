// What every storage shares: trial states, this process as an owner, and a whole study's dump.
#include "mlptune/tune/storage.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>

#include "common/shell_quote.hpp"

namespace mlptune::tune {

bool is_paused(const FrozenTrial& trial) {
  return trial.state == RunState::waiting && trial.paused_epoch > 0;
}

bool is_finished(RunState state) {
  return state == RunState::complete || state == RunState::pruned || state == RunState::failed;
}

std::vector<FrozenTrial> Storage::trials(int study_id) {
  std::vector<FrozenTrial> trials;
  for (auto& record : trial_records(study_id)) trials.push_back(std::move(record.trial));
  return trials;
}

StudyDump Storage::dump_study(const std::string& name) {
  const std::optional<StudyInfo> study = find_study(name);
  if (!study)
    throw StorageError(location() + ": has no study named '" + name + "'; `mlptune studies " +
                       shell_quoted(location()) + "` lists the studies it has");
  StudyDump dump;
  dump.study = *study;
  dump.previous_configs = config_history(study->id);
  dump.trials = trial_records(study->id);
  for (const TrialRecord& record : dump.trials)
    if (record.checkpoint_epoch > 0)
      if (auto checkpoint = load_checkpoint(study->id, record.trial.number))
        dump.checkpoints.emplace(record.trial.number, std::move(*checkpoint));
  dump.best = best_weights(study->id);
  return dump;
}

TrialOwner current_owner() {
  static std::atomic<int> calls{0};
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return TrialOwner{host, int(getpid()), std::to_string(now) + "-" + std::to_string(calls++)};
}

}  // namespace mlptune::tune
