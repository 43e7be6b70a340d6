// The SQLite study storage: WAL mode, write transactions that take the lock up front and retry,
// trial numbers claimed inside the transaction that creates the trial.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>

#include "common/process.hpp"
#include "io/output_file.hpp"
#include "mlptune/tune/storage.hpp"
#include "tune/enum_names.hpp"
#include "tune/storage_json.hpp"
#include "tune/storage_sqlite_connection.hpp"

namespace mlptune::tune {
namespace {

using sqlite::Connection;
using sqlite::Statement;
using Mode = Connection::Mode;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS studies (
  study_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  direction TEXT NOT NULL,
  config_yaml TEXT NOT NULL,
  seed INTEGER NOT NULL,
  created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
  trial_id INTEGER PRIMARY KEY,
  study_id INTEGER NOT NULL REFERENCES studies(study_id),
  number INTEGER NOT NULL,
  state TEXT NOT NULL,
  params_json TEXT NOT NULL,
  attributes_json TEXT NOT NULL,
  value REAL,
  seed INTEGER NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  started_at REAL NOT NULL DEFAULT 0,
  finished_at REAL NOT NULL DEFAULT 0,
  owner_host TEXT NOT NULL DEFAULT '',
  owner_pid INTEGER NOT NULL DEFAULT 0,
  owner_token TEXT NOT NULL DEFAULT '',
  heartbeat REAL NOT NULL DEFAULT 0,
  paused_epoch INTEGER NOT NULL DEFAULT 0,
  checkpoint_path TEXT NOT NULL DEFAULT '',
  checkpoint_epoch INTEGER NOT NULL DEFAULT 0,
  UNIQUE (study_id, number));
CREATE TABLE IF NOT EXISTS config_changes (
  study_id INTEGER NOT NULL REFERENCES studies(study_id),
  changed_at REAL NOT NULL,
  previous_yaml TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS intermediate_values (
  trial_id INTEGER NOT NULL REFERENCES trials(trial_id),
  epoch INTEGER NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (trial_id, epoch));
)sql";

// 1: the first schema; 2: checkpoints of running trials (trials.checkpoint_epoch), config_changes.
constexpr int kSchemaVersion = 2;

constexpr const char* kTrialColumns =
    "trial_id, number, state, params_json, attributes_json, value, seed, message, started_at, finished_at, "
    "owner_host, owner_pid, owner_token, heartbeat, paused_epoch, checkpoint_path";  // then checkpoint_epoch

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
// A stored direction other than "maximize" has always read as minimize.
Goal goal_from_name(const std::string& name) {
  const auto* entry = kGoalNames.find(name);
  return entry ? entry->value : Goal::minimize;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool owner_gone(const TrialRecord& record, const TrialOwner& me, double now, double stale_after_seconds) {
  const TrialOwner& owner = record.owner;
  if (owner.host == me.host) {
    if (owner.pid == me.pid) return owner.token != me.token;
    return !process_alive(owner.pid);
  }
  return now - record.heartbeat > stale_after_seconds;
}

TrialRecord read_trial_row(const Statement& row) {
  TrialRecord record;
  FrozenTrial& trial = record.trial;
  trial.number = int(row.column_int(1));
  trial.state = state_from_name(row.column_text(2));
  params_from_json_text(row.column_text(3), trial.params, record.distributions);
  record.attributes = string_map_from_json_text(row.column_text(4));
  trial.value = row.column_optional_double(5);
  trial.seed = std::uint64_t(row.column_int(6));
  trial.message = row.column_text(7);
  trial.started_at = row.column_double(8);
  trial.finished_at = row.column_double(9);
  record.owner = {row.column_text(10), int(row.column_int(11)), row.column_text(12)};
  record.heartbeat = row.column_double(13);
  trial.paused_epoch = int(row.column_int(14));
  record.checkpoint_path = row.column_text(15);
  record.checkpoint_epoch = int(row.column_int(16));
  return record;
}

class SqliteStorage final : public Storage {
 public:
  SqliteStorage(const std::filesystem::path& path, const SqliteOptions& options)
      : path_(path), connection_(path, options.busy_timeout_seconds, connection_access(options.access)) {
    if (options.access == StorageAccess::read_only)
      check_readable();
    else
      create_or_upgrade_schema();
  }

  StudyInfo open_or_create_study(const StudyInfo& wanted) override {
    std::lock_guard lock(mutex_);
    StudyInfo result;
    connection_.transaction(Mode::write, [&] {
      if (auto existing = select_study(wanted.name)) {
        result = *existing;
        return;
      }
      Statement insert(connection_,
                       "INSERT INTO studies (name, direction, config_yaml, seed, created_at) VALUES (?, ?, ?, ?, ?)");
      insert.bind(1, wanted.name).bind(2, goal_name(wanted.direction)).bind(3, wanted.config_yaml);
      insert.bind(4, std::int64_t(wanted.seed)).bind(5, unix_now()).run();
      result = *select_study(wanted.name);
    });
    if (result.direction != wanted.direction)
      throw StorageError(path_.string() + ": study '" + wanted.name + "' was created to " +
                         goal_name(result.direction) + " its metric, not " + goal_name(wanted.direction) +
                         "; use another study name or storage file, or keep the metric goal");
    return result;
  }

  std::optional<StudyInfo> find_study(const std::string& name) override {
    std::lock_guard lock(mutex_);
    std::optional<StudyInfo> result;
    connection_.transaction(Mode::read, [&] { result = select_study(name); });
    return result;
  }

  void change_study_config(int study_id, const std::string& config_yaml) override {
    std::lock_guard lock(mutex_);
    connection_.transaction(Mode::write, [&] {
      Statement keep(connection_,
                     "INSERT INTO config_changes (study_id, changed_at, previous_yaml) "
                     "SELECT study_id, ?, config_yaml FROM studies WHERE study_id = ?");
      keep.bind(1, unix_now()).bind(2, study_id).run();
      Statement change(connection_, "UPDATE studies SET config_yaml = ? WHERE study_id = ?");
      change.bind(1, config_yaml).bind(2, study_id).run();
    });
  }

  std::vector<StudyInfo> studies() override {
    std::lock_guard lock(mutex_);
    std::vector<StudyInfo> result;
    connection_.transaction(Mode::read, [&] {
      result.clear();
      Statement select(
          connection_,
          "SELECT study_id, name, direction, config_yaml, seed, created_at FROM studies ORDER BY study_id");
      while (select.step()) result.push_back(read_study_row(select));
    });
    return result;
  }

  std::optional<TrialRecord> claim_trial(int study_id, const TrialOwner& owner, int run_cap,
                                         const SampleTrialFn& sample) override {
    std::lock_guard lock(mutex_);
    std::optional<TrialRecord> claimed;
    connection_.transaction(Mode::write, [&] {
      claimed.reset();
      std::vector<TrialRecord> records = select_trials(study_id);
      const auto requeued = std::find_if(records.begin(), records.end(), [](const TrialRecord& record) {
        return record.trial.state == RunState::waiting && record.trial.paused_epoch == 0;
      });
      int number = 0;
      bool fresh_start = true;
      if (requeued != records.end()) {
        number = requeued->trial.number;
        fresh_start = requeued->checkpoint_epoch == 0;  // else it continues from its checkpoint
      } else {
        if (run_cap > 0 && int(records.size()) >= run_cap) return;
        number = records.empty() ? 0 : records.back().trial.number + 1;
        insert_sampled_trial(study_id, number, sample(frozen_copies(records), number));
      }
      mark_running(study_id, number, owner, fresh_start);
      claimed = select_trial(study_id, number);
    });
    return claimed;
  }

  bool claim_paused_trial(int study_id, int number, const TrialOwner& owner) override {
    std::lock_guard lock(mutex_);
    bool claimed = false;
    connection_.transaction(Mode::write, [&] {
      Statement take(connection_,
                     "UPDATE trials SET state = 'running', paused_epoch = 0, owner_host = ?, owner_pid = ?, "
                     "owner_token = ?, heartbeat = ? "
                     "WHERE study_id = ? AND number = ? AND state = 'waiting' AND paused_epoch > 0");
      take.bind(1, owner.host).bind(2, owner.pid).bind(3, owner.token).bind(4, unix_now());
      take.bind(5, study_id).bind(6, number).run();
      claimed = connection_.changes() == 1;
    });
    return claimed;
  }

  void record_intermediate(int study_id, int number, int epoch, double value) override {
    std::lock_guard lock(mutex_);
    connection_.transaction(Mode::write, [&] {
      Statement insert(connection_,
                       "INSERT OR REPLACE INTO intermediate_values (trial_id, epoch, value) "
                       "SELECT trial_id, ?, ? FROM trials WHERE study_id = ? AND number = ?");
      insert.bind(1, epoch).bind(2, value).bind(3, study_id).bind(4, number).run();
      require_one_change(study_id, number, "record an intermediate value");
      Statement beat(connection_, "UPDATE trials SET heartbeat = ? WHERE study_id = ? AND number = ?");
      beat.bind(1, unix_now()).bind(2, study_id).bind(3, number).run();
    });
  }

  void pause_trial(int study_id, int number, int epoch, const std::string& checkpoint_path) override {
    std::lock_guard lock(mutex_);
    connection_.transaction(Mode::write, [&] {
      Statement pause(
          connection_,
          "UPDATE trials SET state = 'waiting', paused_epoch = ?, checkpoint_epoch = ?, checkpoint_path = ? "
          "WHERE study_id = ? AND number = ?");
      pause.bind(1, epoch).bind(2, epoch).bind(3, checkpoint_path).bind(4, study_id).bind(5, number).run();
      require_one_change(study_id, number, "pause");
    });
  }

  bool checkpoint_trial(int study_id, int number, const TrialOwner& owner, int epoch,
                        const std::string& checkpoint_path) override {
    std::lock_guard lock(mutex_);
    bool recorded = false;
    connection_.transaction(Mode::write, [&] {
      Statement keep(connection_,
                     "UPDATE trials SET checkpoint_epoch = ?, checkpoint_path = ?, heartbeat = ? "
                     "WHERE study_id = ? AND number = ? AND state = 'running' AND owner_token = ?");
      keep.bind(1, epoch).bind(2, checkpoint_path).bind(3, unix_now()).bind(4, study_id).bind(5, number);
      keep.bind(6, owner.token).run();
      recorded = connection_.changes() == 1;
    });
    return recorded;
  }

  bool suspend_trial(int study_id, int number, const TrialOwner& owner, int epoch,
                     const std::string& checkpoint_path) override {
    std::lock_guard lock(mutex_);
    bool suspended = false;
    connection_.transaction(Mode::write, [&] {
      Statement wait(connection_,
                     "UPDATE trials SET state = 'waiting', paused_epoch = 0, checkpoint_epoch = ?, checkpoint_path = ? "
                     "WHERE study_id = ? AND number = ? AND state = 'running' AND owner_token = ?");
      wait.bind(1, epoch).bind(2, checkpoint_path).bind(3, study_id).bind(4, number).bind(5, owner.token).run();
      suspended = connection_.changes() == 1;
      if (!suspended) return;
      Statement drop_values(connection_,
                            "DELETE FROM intermediate_values WHERE epoch > ? AND trial_id = "
                            "(SELECT trial_id FROM trials WHERE study_id = ? AND number = ?)");
      drop_values.bind(1, epoch).bind(2, study_id).bind(3, number).run();
    });
    return suspended;
  }

  void finish_trial(int study_id, int number, RunState state, std::optional<double> value,
                    const std::string& message) override {
    if (!is_finished(state))
      throw StorageError("finish_trial needs a finished state (complete, pruned, failed); use pause_trial to pause");
    std::lock_guard lock(mutex_);
    std::string checkpoint;
    connection_.transaction(Mode::write, [&] {
      if (const auto record = select_trial(study_id, number)) checkpoint = record->checkpoint_path;
      Statement finish(connection_,
                       "UPDATE trials SET state = ?, value = ?, message = ?, finished_at = ?, paused_epoch = 0, "
                       "checkpoint_epoch = 0, checkpoint_path = '' WHERE study_id = ? AND number = ?");
      finish.bind(1, state_name(state)).bind(2, value).bind(3, message).bind(4, unix_now());
      finish.bind(5, study_id).bind(6, number).run();
      require_one_change(study_id, number, "finish");
    });
    remove_checkpoint_files(study_id, number, checkpoint);  // a finished trial never continues
  }

  void heartbeat(const TrialOwner& owner) override {
    std::lock_guard lock(mutex_);
    connection_.transaction(Mode::write, [&] {
      Statement beat(connection_,
                     "UPDATE trials SET heartbeat = ? WHERE state = 'running' AND owner_host = ? AND owner_pid = ? "
                     "AND owner_token = ?");
      beat.bind(1, unix_now()).bind(2, owner.host).bind(3, owner.pid).bind(4, owner.token).run();
    });
  }

  std::vector<int> requeue_abandoned_trials(int study_id, const TrialOwner& me, double stale_after_seconds) override {
    std::lock_guard lock(mutex_);
    std::vector<int> requeued;
    connection_.transaction(Mode::write, [&] {
      requeued.clear();
      const double now = unix_now();
      for (const TrialRecord& record : select_trials(study_id)) {
        if (record.trial.state != RunState::running || !owner_gone(record, me, now, stale_after_seconds)) continue;
        requeue(study_id, record);
        requeued.push_back(record.trial.number);
      }
    });
    io::remove_abandoned_temporaries(checkpoint_folder(study_id));  // of checkpoints killed mid-write
    return requeued;
  }

  std::vector<TrialRecord> trial_records(int study_id) override {
    std::lock_guard lock(mutex_);
    std::vector<TrialRecord> records;
    connection_.transaction(Mode::read, [&] { records = select_trials(study_id); });
    return records;
  }

  std::optional<TrialRecord> trial_record(int study_id, int number) override {
    std::lock_guard lock(mutex_);
    std::optional<TrialRecord> record;
    connection_.transaction(Mode::read, [&] { record = select_trial(study_id, number); });
    return record;
  }

  // Two files per trial, used in turn: the next state goes to the one the record does not name,
  // so a kill between writing it and recording it leaves the record's file as it was.
  std::filesystem::path checkpoint_path_for(int study_id, int number) override {
    const std::filesystem::path folder = checkpoint_folder(study_id);
    std::error_code error;
    std::filesystem::create_directories(folder, error);
    if (error)
      throw StorageError(folder.string() + ": cannot create the folder for checkpoints of trials (" + error.message() +
                         "); check that the database's folder is writable");
    const auto record = trial_record(study_id, number);
    const auto slots = checkpoint_slots(study_id, number);
    return record && record->checkpoint_path == slots.front().string() ? slots.back() : slots.front();
  }

 private:
  static Connection::Access connection_access(StorageAccess access) {
    return access == StorageAccess::read_only ? Connection::Access::read_only : Connection::Access::read_write;
  }

  int schema_version() {
    Statement version(connection_, "PRAGMA user_version");
    return version.step() ? int(version.column_int(0)) : 0;
  }

  bool has_table(const std::string& table) {
    Statement found(connection_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
    found.bind(1, table);
    return found.step();
  }

  bool has_column(const std::string& table, const std::string& column) {
    Statement found(connection_, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?");
    found.bind(1, table).bind(2, column);
    return found.step();
  }

  void check_version_known(int version) const {
    if (version > kSchemaVersion)
      throw StorageError(path_.string() + ": the study database has schema version " + std::to_string(version) +
                         ", newer than this mlptune knows (" + std::to_string(kSchemaVersion) +
                         "); use the mlptune version that wrote it, or a newer one");
  }

  void create_or_upgrade_schema() {
    connection_.transaction(Mode::write, [&] {
      check_version_known(schema_version());
      connection_.execute(kSchema);                   // what is missing
      if (!has_column("trials", "checkpoint_epoch"))  // version 1: no checkpoints of running trials
        connection_.execute("ALTER TABLE trials ADD COLUMN checkpoint_epoch INTEGER NOT NULL DEFAULT 0");
      connection_.execute(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
    });
    // WAL lets readers work while one process writes; NORMAL sync is safe in WAL against
    // process crashes (kill -9), which is what resuming has to survive.
    for (int attempt = 0;; ++attempt) {
      try {
        connection_.execute("PRAGMA journal_mode=WAL");
        break;
      } catch (const sqlite::BusyError&) {
        if (attempt > 1000) throw StorageError(path_.string() + ": cannot switch to WAL mode: the file stays locked");
      }
    }
    connection_.execute("PRAGMA synchronous=NORMAL");
  }

  // A read-only open changes nothing: a file without mlptune's tables is refused, saying what it is,
  // and a study written before running trials had checkpoints reads as having none.
  void check_readable() {
    connection_.transaction(Mode::read, [&] {
      if (!has_table("studies") || !has_table("trials") || !has_table("intermediate_values")) {
        std::string message = path_.string();  // appended to, clear of GCC 12's -Wrestrict false positive
        message += std::filesystem::file_size(path_) == 0 ? ": is empty, not an mlptune study database"
                                                          : ": is an SQLite file without mlptune's study tables";
        throw StorageError(message + "; give the file `mlptune tune` wrote, its --storage (e.g. out/mnist.db)");
      }
      check_version_known(schema_version());
      if (!has_column("trials", "checkpoint_epoch")) trial_columns_ = std::string(kTrialColumns) + ", 0";
    });
  }

  StudyInfo read_study_row(const Statement& row) {
    return StudyInfo{
        int(row.column_int(0)),           row.column_text(1),  goal_from_name(row.column_text(2)), row.column_text(3),
        std::uint64_t(row.column_int(4)), row.column_double(5)};
  }

  std::optional<StudyInfo> select_study(const std::string& name) {
    Statement select(connection_,
                     "SELECT study_id, name, direction, config_yaml, seed, created_at FROM studies WHERE name = ?");
    select.bind(1, name);
    if (!select.step()) return std::nullopt;
    return read_study_row(select);
  }

  std::vector<TrialRecord> select_trials(int study_id) {
    std::vector<TrialRecord> records;
    std::map<std::int64_t, std::size_t> index_of_trial_id;
    Statement select(connection_,
                     ("SELECT " + trial_columns_ + " FROM trials WHERE study_id = ? ORDER BY number").c_str());
    select.bind(1, study_id);
    while (select.step()) {
      index_of_trial_id[select.column_int(0)] = records.size();
      records.push_back(read_trial_row(select));
    }
    Statement values(connection_,
                     "SELECT v.trial_id, v.epoch, v.value FROM intermediate_values v JOIN trials t "
                     "ON v.trial_id = t.trial_id WHERE t.study_id = ?");
    values.bind(1, study_id);
    while (values.step())
      records[index_of_trial_id.at(values.column_int(0))].trial.intermediate[int(values.column_int(1))] =
          values.column_double(2);
    return records;
  }

  std::optional<TrialRecord> select_trial(int study_id, int number) {
    Statement select(connection_,
                     ("SELECT " + trial_columns_ + " FROM trials WHERE study_id = ? AND number = ?").c_str());
    select.bind(1, study_id).bind(2, number);
    if (!select.step()) return std::nullopt;
    TrialRecord record = read_trial_row(select);
    Statement values(connection_, "SELECT epoch, value FROM intermediate_values WHERE trial_id = ?");
    values.bind(1, select.column_int(0));
    while (values.step()) record.trial.intermediate[int(values.column_int(0))] = values.column_double(1);
    return record;
  }

  static std::vector<FrozenTrial> frozen_copies(const std::vector<TrialRecord>& records) {
    std::vector<FrozenTrial> trials;
    trials.reserve(records.size());
    for (const auto& record : records) trials.push_back(record.trial);
    return trials;
  }

  void insert_sampled_trial(int study_id, int number, const SampledTrial& sampled) {
    Statement insert(connection_,
                     "INSERT INTO trials (study_id, number, state, params_json, attributes_json, seed) "
                     "VALUES (?, ?, 'waiting', ?, ?, ?)");
    insert.bind(1, study_id).bind(2, number).bind(3, params_to_json_text(sampled.params, sampled.distributions));
    insert.bind(4, string_map_to_json_text(sampled.attributes)).bind(5, std::int64_t(sampled.seed)).run();
  }

  void mark_running(int study_id, int number, const TrialOwner& owner, bool fresh_start) {
    const double now = unix_now();
    Statement update(
        connection_,
        "UPDATE trials SET state = 'running', owner_host = ?, owner_pid = ?, owner_token = ?, heartbeat = ?, "
        "started_at = CASE WHEN ? THEN ? ELSE started_at END WHERE study_id = ? AND number = ?");
    update.bind(1, owner.host).bind(2, owner.pid).bind(3, owner.token).bind(4, now);
    update.bind(5, int(fresh_start)).bind(6, now).bind(7, study_id).bind(8, number).run();
  }

  // The trial runs again: from its last checkpoint when there is one (values after that epoch are
  // dropped: they are reported again), else from the start.
  void requeue(int study_id, const TrialRecord& record) {
    const int number = record.trial.number;
    const bool resumable = record.checkpoint_epoch > 0 && std::filesystem::is_regular_file(record.checkpoint_path);
    const int kept_epochs = resumable ? record.checkpoint_epoch : 0;
    Statement drop_values(connection_,
                          "DELETE FROM intermediate_values WHERE epoch > ? AND trial_id = "
                          "(SELECT trial_id FROM trials WHERE study_id = ? AND number = ?)");
    drop_values.bind(1, kept_epochs).bind(2, study_id).bind(3, number).run();
    Statement reset(connection_,
                    "UPDATE trials SET state = 'waiting', value = NULL, message = '', paused_epoch = 0, "
                    "checkpoint_epoch = ?, checkpoint_path = ?, started_at = CASE WHEN ? THEN started_at ELSE 0 END, "
                    "finished_at = 0 WHERE study_id = ? AND number = ?");
    reset.bind(1, kept_epochs).bind(2, resumable ? record.checkpoint_path : std::string());
    reset.bind(3, int(resumable)).bind(4, study_id).bind(5, number).run();
    if (!resumable) remove_checkpoint_files(study_id, number, record.checkpoint_path);
  }

  std::filesystem::path checkpoint_folder(int study_id) const {
    return path_.string() + ".trials/" + std::to_string(study_id);
  }

  std::array<std::filesystem::path, 2> checkpoint_slots(int study_id, int number) const {
    const std::filesystem::path folder = checkpoint_folder(study_id);
    const std::string name = std::to_string(number);
    return {folder / (name + ".a.safetensors"), folder / (name + ".b.safetensors")};
  }

  // The trial's checkpoint files: both slots, and the recorded one (of an older layout, perhaps).
  void remove_checkpoint_files(int study_id, int number, const std::string& recorded) const {
    std::error_code ignored;
    for (const auto& slot : checkpoint_slots(study_id, number)) std::filesystem::remove(slot, ignored);
    if (!recorded.empty()) std::filesystem::remove(recorded, ignored);
  }

  void require_one_change(int study_id, int number, const char* action) {
    if (connection_.changes() == 1) return;
    throw StorageError(path_.string() + ": cannot " + action + " trial " + std::to_string(number) + " of study " +
                       std::to_string(study_id) + ": no such trial; the study may have been deleted");
  }

  std::filesystem::path path_;
  std::mutex mutex_;
  Connection connection_;
  std::string trial_columns_ = std::string(kTrialColumns) + ", checkpoint_epoch";
};

}  // namespace

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

TrialOwner current_owner() {
  static std::atomic<int> calls{0};
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return TrialOwner{host, int(getpid()), std::to_string(now) + "-" + std::to_string(calls++)};
}

std::unique_ptr<Storage> open_sqlite_storage(const std::filesystem::path& path, const SqliteOptions& options) {
  if (options.access == StorageAccess::read_only) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error))
      throw StorageError(path.string() +
                         ": is a folder, not a study file; give the file `mlptune tune` wrote, its "
                         "--storage (e.g. out/mnist.db)");
    if (!std::filesystem::exists(path, error))
      throw StorageError(path.string() +
                         ": no such study file (it is the --storage of `mlptune tune`, e.g. "
                         "out/mnist.db)");
  }
  return std::make_unique<SqliteStorage>(path, options);
}

std::filesystem::path best_weights_path(const std::filesystem::path& database) {
  return database.string() + ".best.safetensors";
}

}  // namespace mlptune::tune
