// Study storage: studies, trials, intermediate values and paused-trial checkpoints, shared safely by
// threads and by processes (the SQLite implementation survives kill -9 and resumes).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mlptune/error.hpp"
#include "mlptune/tune/frozen_trial.hpp"

namespace mlptune::tune {

// The database cannot be opened, read or written; the message names the file and the fix.
class StorageError : public Error {
 public:
  using Error::Error;
};

struct StudyInfo {
  int id = 0;
  std::string name;
  Goal direction = Goal::minimize;
  std::string config_yaml;  // the configuration text the study was started with
  std::uint64_t seed = 0;   // trial seeds derive from it
  double created_at = 0.0;  // unix seconds
};

// Who runs a trial: a process on a host. `token` tells apart two runs in one process.
struct TrialOwner {
  std::string host;
  int pid = 0;
  std::string token;
};
// This process, with a token unique to the call.
TrialOwner current_owner();

// What the sampler produced for a new trial.
struct SampledTrial {
  Params params;
  std::map<std::string, Distribution> distributions;  // per parameter: where its value came from
  std::uint64_t seed = 0;
  std::map<std::string, std::string> attributes;  // free-form, e.g. "command": the `mlptune train` line
};
// Called inside the claiming transaction with every trial of the study (a consistent view across
// processes) and the number the new trial gets.
using SampleTrialFn = std::function<SampledTrial(std::span<const FrozenTrial> trials, int number)>;

// Everything stored about one trial. `trial` is an immutable copy; nothing a caller does to it
// reaches the storage.
struct TrialRecord {
  FrozenTrial trial;
  std::map<std::string, Distribution> distributions;
  std::map<std::string, std::string> attributes;
  TrialOwner owner;        // of the last run (empty for never-started trials)
  double heartbeat = 0.0;  // unix seconds of the owner's last sign of life
  // The trial's latest saved state (save_trial_state, with optimizer state): after epoch
  // `checkpoint_epoch` (0: none). Paused trials have one at their rung; running trials save one
  // every so often, so that a run interrupted by a crash or kill -9 continues from there.
  int checkpoint_epoch = 0;
  std::string checkpoint_path;
};

// A paused trial waits at a scheduler's rung for a promotion (trial.paused_epoch > 0). Other
// waiting trials were requeued: they run again from their checkpoint, or from the start.
bool is_paused(const FrozenTrial& trial);
bool is_finished(RunState state);

// Storages are thread-safe: one object may serve every slot of the executor.
class Storage {
 public:
  virtual ~Storage() = default;

  // Opens the study of that name, or creates it from `wanted` (its id is ignored). Throws
  // StorageError when the existing study optimises in the other direction.
  virtual StudyInfo open_or_create_study(const StudyInfo& wanted) = 0;
  virtual std::optional<StudyInfo> find_study(const std::string& name) = 0;
  // The study continues with another configuration: it becomes the study's, and the one it
  // replaces is kept in the study's history of changes.
  virtual void change_study_config(int study_id, const std::string& config_yaml) = 0;
  virtual std::vector<StudyInfo> studies() = 0;

  // One transaction: the lowest-numbered requeued trial if there is one (same number, params and
  // seed), else a new trial numbered one past the highest while the study has fewer than
  // `run_cap` trials (0: no cap), with what `sample` returns. The trial becomes running, owned
  // by `owner`. Nothing to run: nullopt.
  virtual std::optional<TrialRecord> claim_trial(int study_id, const TrialOwner& owner, int run_cap,
                                                 const SampleTrialFn& sample) = 0;
  // The lowest-numbered requeued trial continues from its checkpoint when its record has one.
  // A paused trial continues: running again, owned by `owner`. False when another worker took it.
  virtual bool claim_paused_trial(int study_id, int number, const TrialOwner& owner) = 0;

  // Records the metric after `epoch` (replacing an earlier value) and refreshes the heartbeat.
  virtual void record_intermediate(int study_id, int number, int epoch, double value) = 0;
  // A running trial stops at `epoch` with its state in `checkpoint_path`: waiting, paused.
  virtual void pause_trial(int study_id, int number, int epoch, const std::string& checkpoint_path) = 0;
  // A running trial's state after `epoch` is saved in `checkpoint_path`: recorded (and the heartbeat
  // refreshed) only while `owner` still runs the trial; false otherwise, when the caller's file is
  // of no use.
  virtual bool checkpoint_trial(int study_id, int number, const TrialOwner& owner, int epoch,
                                const std::string& checkpoint_path) = 0;
  // A running trial that `owner` holds stops after `epoch` with its state in `checkpoint_path`, because
  // the run is ending (a time budget, a signal): waiting, not paused, so the next run claims it as
  // it claims a requeued trial and continues from that epoch. Values after `epoch` are dropped.
  // False when `owner` no longer holds the trial.
  virtual bool suspend_trial(int study_id, int number, const TrialOwner& owner, int epoch,
                             const std::string& checkpoint_path) = 0;
  // complete, pruned or failed, with the value (pruned: the last intermediate value) and message;
  // the trial's checkpoint file is removed.
  virtual void finish_trial(int study_id, int number, RunState state, std::optional<double> value,
                            const std::string& message) = 0;
  // Refreshes the heartbeat of every running trial `owner` holds.
  virtual void heartbeat(const TrialOwner& owner) = 0;
  // Running trials whose owner is gone go back to waiting with the same number, params and seed,
  // to run again from their checkpoint (intermediate values after it dropped), or without one from
  // the start (all dropped). Gone: on this
  // host, a dead process or an earlier run in this process (another token); elsewhere, a
  // heartbeat older than `stale_after_seconds`. Returns the requeued numbers.
  virtual std::vector<int> requeue_abandoned_trials(int study_id, const TrialOwner& me, double stale_after_seconds) = 0;

  virtual std::vector<TrialRecord> trial_records(int study_id) = 0;  // by number
  virtual std::optional<TrialRecord> trial_record(int study_id, int number) = 0;
  std::vector<FrozenTrial> trials(int study_id);  // by number

  // Where the trial's next checkpoint (paused or running) goes: never the file its record names
  // now, so that file stays whole until the new one is recorded. The folder exists once this returns.
  virtual std::filesystem::path checkpoint_path_for(int study_id, int number) = 0;
};

// read_write creates a missing file (and its schema); read_only never creates or changes a file
// and refuses one that is not a study database, saying what it is.
enum class StorageAccess { read_write, read_only };

struct SqliteOptions {
  double busy_timeout_seconds = 60.0;  // waiting for another process's write before failing
  StorageAccess access = StorageAccess::read_write;
};
// A SQLite file in WAL mode. Checkpoints go to "<db>.trials/<study id>/".
std::unique_ptr<Storage> open_sqlite_storage(const std::filesystem::path& path, const SqliteOptions& options = {});

// The file beside the database that holds the best trial's weights: "<db>.best.safetensors".
std::filesystem::path best_weights_path(const std::filesystem::path& database);

}  // namespace mlptune::tune
