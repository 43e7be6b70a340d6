// Study storage: studies, trials, intermediate values, checkpoints and the best weights, shared
// safely by threads, processes (SQLite, on one machine) and hosts (PostgreSQL); both survive kill -9.
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
// processes and hosts) and the number the new trial gets.
using SampleTrialFn = std::function<SampledTrial(std::span<const FrozenTrial> trials, int number)>;

// One claim of a running trial: the trial, and the fencing token the claim got. Every claim of a
// trial gets a larger token than the one before it, and every write of a running trial (a value, a
// checkpoint, its end) is carried out only while its claim's token is still the trial's: a worker
// that lost its trial (silent past the grace period, taken over by another) finds its late writes
// refused, so no trial counts twice and no stale result overwrites a newer one.
struct TrialClaim {
  int study_id = 0;
  int number = 0;
  std::int64_t token = 0;
};

// Everything stored about one trial. `trial` is an immutable copy; nothing a caller does to it
// reaches the storage.
struct TrialRecord {
  FrozenTrial trial;
  std::map<std::string, Distribution> distributions;
  std::map<std::string, std::string> attributes;
  TrialOwner owner;              // of the last run (empty for never-started trials)
  double heartbeat = 0.0;        // unix seconds of the owner's last sign of life
  std::int64_t claim_token = 0;  // of the trial's latest claim (0: never claimed)
  // Times it was abandoned by its owner and requeued since it last made progress (a checkpoint
  // after a later epoch than the one it resumed from): a trial that keeps its workers from getting
  // anywhere is failed after max_retries, one that advances between kills is not.
  int retries = 0;
  // The trial's latest saved state (save_trial_state with optimizer state, kept in the storage,
  // read by load_checkpoint): after epoch `checkpoint_epoch` (0: none). Paused trials have one at
  // their rung; running trials save one every so often, so that a run interrupted by a crash, a
  // kill -9 or a lost host continues from there on any worker.
  int checkpoint_epoch = 0;

  TrialClaim claim(int study_id) const { return {study_id, trial.number, claim_token}; }
};

// A paused trial waits at a scheduler's rung for a promotion (trial.paused_epoch > 0). Other
// waiting trials were requeued: they run again from their checkpoint, or from the start.
bool is_paused(const FrozenTrial& trial);
bool is_finished(RunState state);

// What requeue_abandoned_trials did: trials that run again, and trials abandoned more often than
// allowed, which stay failed with the reason.
struct AbandonedTrials {
  std::vector<int> requeued;
  std::vector<int> failed;
};

// The best complete trial's model (a safetensors file's bytes, without optimizer state).
struct BestWeights {
  int number = 0;
  std::string model;
};

// A whole study, as `mlptune copy` moves it between storages.
struct StudyDump {
  StudyInfo study;
  std::vector<std::string> previous_configs;  // the study's history of configuration changes, oldest first
  std::vector<TrialRecord> trials;            // by number
  std::map<int, std::string> checkpoints;     // by trial number
  std::optional<BestWeights> best;
};

// Storages are thread-safe: one object may serve every slot of the executor.
class Storage {
 public:
  virtual ~Storage() = default;

  // Where the storage is, for messages: the file, or the URL without its password.
  virtual std::string location() const = 0;

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
  // by `owner`, with a new claim token. Nothing to run: nullopt.
  virtual std::optional<TrialRecord> claim_trial(int study_id, const TrialOwner& owner, int run_cap,
                                                 const SampleTrialFn& sample) = 0;
  // A paused trial continues: running again, owned by `owner`, with a new claim token. Nullopt when
  // another worker took it.
  virtual std::optional<TrialRecord> claim_paused_trial(int study_id, int number, const TrialOwner& owner) = 0;

  // The writes of a running trial. Each is carried out only while `claim` still holds the trial
  // (it is running and its token is the trial's); false, with nothing written, otherwise.
  //
  // Records the metric after `epoch` (replacing an earlier value) and refreshes the heartbeat.
  virtual bool record_intermediate(const TrialClaim& claim, int epoch, double value) = 0;
  // The trial stops at `epoch` with its state `checkpoint`: waiting, paused at a rung.
  virtual bool pause_trial(const TrialClaim& claim, int epoch, const std::string& checkpoint) = 0;
  // The trial's state after `epoch` is saved, and the heartbeat refreshed; it trains on.
  virtual bool checkpoint_trial(const TrialClaim& claim, int epoch, const std::string& checkpoint) = 0;
  // The trial stops after `epoch` with its state `checkpoint`, because the run is ending (a time
  // budget, a signal): waiting, not paused, so the next run claims it as it claims a requeued trial
  // and continues from that epoch. Values after `epoch` are dropped.
  virtual bool suspend_trial(const TrialClaim& claim, int epoch, const std::string& checkpoint) = 0;
  // complete, pruned or failed, with the value (pruned: the last intermediate value) and message;
  // its checkpoint is dropped. Throws StorageError for a state that is not finished or a trial that
  // does not exist.
  virtual bool finish_trial(const TrialClaim& claim, RunState state, std::optional<double> value,
                            const std::string& message) = 0;
  // A trial paused at a rung is pruned there, with its last value; false when it is no longer paused.
  virtual bool prune_paused_trial(int study_id, int number, const std::string& message) = 0;

  // Refreshes the heartbeat of every running trial `owner` holds.
  virtual void heartbeat(const TrialOwner& owner) = 0;
  // Running trials whose owner is gone go back to waiting with the same number, params and seed,
  // to run again from their checkpoint (intermediate values after it dropped), or without one from
  // the start (all dropped); a trial already requeued `max_retries` times without progress is
  // failed instead, with the reason. Gone: on this host, a dead process or an earlier run in this process (another
  // token); elsewhere, a heartbeat older than `stale_after_seconds`.
  virtual AbandonedTrials requeue_abandoned_trials(int study_id, const TrialOwner& me, double stale_after_seconds,
                                                   int max_retries) = 0;

  virtual std::vector<TrialRecord> trial_records(int study_id) = 0;  // by number
  virtual std::optional<TrialRecord> trial_record(int study_id, int number) = 0;
  std::vector<FrozenTrial> trials(int study_id);  // by number
  // The bytes of the trial's latest checkpoint (after its record's checkpoint_epoch), if it has one.
  virtual std::optional<std::string> load_checkpoint(int study_id, int number) = 0;

  // Keeps `model` as the study's best weights when trial `number` is, as this is called, the best
  // complete trial of the study (by its value and the study's direction; the lower number on a tie);
  // false otherwise, when the weights kept stay.
  virtual bool save_best_weights(int study_id, int number, const std::string& model) = 0;
  virtual std::optional<BestWeights> best_weights(int study_id) = 0;

  // The whole study, and back: import_study creates the study under its name (refused with a
  // StorageError when this storage has a study of that name) with every trial as it is in `dump`.
  // dump_study throws StorageError when there is no study of that name.
  StudyDump dump_study(const std::string& name);
  virtual void import_study(const StudyDump& dump) = 0;
  // The configurations the study was run with before its current one, oldest first.
  virtual std::vector<std::string> config_history(int study_id) = 0;
};

// read_write creates a missing file (and its schema); read_only never creates or changes a file
// and refuses one that is not a study database, saying what it is.
enum class StorageAccess { read_write, read_only };

// How a storage rides out a database that is busy (SQLite: another process holds its lock) or out
// of reach (PostgreSQL: the server went away): every operation is tried again, with the storage free
// for the process's other threads between tries, until `window_seconds` after the first failure of
// the outage; then it throws StorageError. `notice` (when given) hears once when retrying starts,
// with what is tried and for how long, and once when the database answers again.
struct RetryOptions {
  double window_seconds = 60.0;
  std::function<void(const std::string&)> notice;
};

struct SqliteOptions {
  StorageAccess access = StorageAccess::read_write;
  RetryOptions retry;
};
// A SQLite file in WAL mode: for the processes of one machine (SQLite's locks do not hold on a
// network file system).
std::unique_ptr<Storage> open_sqlite_storage(const std::filesystem::path& path, const SqliteOptions& options = {});

struct PostgresOptions {
  double connect_timeout_seconds = 10.0;
  StorageAccess access = StorageAccess::read_write;  // read_only creates no tables
  RetryOptions retry;
};
// A PostgreSQL database, postgresql://user:password@host:port/dbname (libpq's URL, as Optuna and
// SQLAlchemy write it): shared by workers on many hosts.
std::unique_ptr<Storage> open_postgres_storage(const std::string& url, const PostgresOptions& options = {});

// A storage by the --storage text: a postgresql:// (or postgres://) URL, an Optuna-style
// sqlite:///path, or a plain path of an SQLite file. Another scheme is refused, naming it and the
// forms accepted.
std::unique_ptr<Storage> open_storage(const std::string& location, StorageAccess access = StorageAccess::read_write,
                                      const RetryOptions& retry = {});
bool is_database_url(const std::string& location);  // postgresql:// or postgres://
// The SQLite file `location` names (a path, or sqlite:///path's path); nullopt for a postgresql://
// URL. Throws StorageError, as open_storage does, for another scheme.
std::optional<std::filesystem::path> sqlite_file_of(const std::string& location);
// The URL with its password replaced by "***", for messages.
std::string redacted_url(const std::string& url);
// A text (a study's YAML configuration) with the password of every URL in it replaced by "***", as
// redacted_url does: what a storage keeps of a configuration, so that no stored study (nor a copy
// of it) holds a password.
std::string redacted_urls(const std::string& text);

// The file beside an SQLite database that holds the best trial's weights: "<db>.best.safetensors".
std::filesystem::path best_weights_path(const std::filesystem::path& database);

}  // namespace mlptune::tune
