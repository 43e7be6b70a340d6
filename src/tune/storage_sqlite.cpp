// The SQLite study storage: WAL mode, write transactions that take the lock up front and are tried
// again while another process holds it, trial numbers claimed inside the transaction that creates
// the trial, checkpoints as BLOBs.
#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string_view>

#include "mlptune/tune/storage.hpp"
#include "tune/storage_json.hpp"
#include "tune/storage_retry.hpp"
#include "tune/storage_rules.hpp"
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
  checkpoint_epoch INTEGER NOT NULL DEFAULT 0,
  checkpoint BLOB,
  claim_token INTEGER NOT NULL DEFAULT 0,
  retries INTEGER NOT NULL DEFAULT 0,
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
CREATE TABLE IF NOT EXISTS best_weights (
  study_id INTEGER PRIMARY KEY REFERENCES studies(study_id),
  number INTEGER NOT NULL,
  model BLOB NOT NULL);
)sql";

// 1: the first schema; 2: checkpoints of running trials (trials.checkpoint_epoch), config_changes;
// 3: checkpoints and the best weights as BLOBs (they were files beside the database), claim tokens
// and retry counts.
constexpr int kSchemaVersion = 3;

// Columns a database of an older schema lacks, read as 0 there (read-only opens change nothing).
constexpr std::array kLaterTrialColumns = {"checkpoint_epoch", "claim_token", "retries"};
constexpr const char* kTrialColumns =
    "trial_id, number, state, params_json, attributes_json, value, seed, message, started_at, finished_at, "
    "owner_host, owner_pid, owner_token, heartbeat, paused_epoch";  // then kLaterTrialColumns

// A running trial that `claim` still holds.
constexpr const char* kClaimed = " WHERE study_id = ? AND number = ? AND state = 'running' AND claim_token = ?";

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
  record.checkpoint_epoch = int(row.column_int(15));
  record.claim_token = row.column_int(16);
  record.retries = int(row.column_int(17));
  return record;
}

class SqliteStorage final : public Storage {
 public:
  SqliteStorage(const std::filesystem::path& path, const SqliteOptions& options)
      : path_(path), retry_(path.string(), options.retry), connection_(path, connection_access(options.access)) {
    if (options.access == StorageAccess::read_only)
      check_readable();
    else
      create_or_upgrade_schema();
  }

  std::string location() const override { return path_.string(); }

  StudyInfo open_or_create_study(const StudyInfo& wanted) override {
    StudyInfo result;
    transaction(Mode::write, "opening study '" + wanted.name + "'", [&] {
      if (auto existing = select_study(wanted.name)) {
        result = *existing;
        return;
      }
      result = insert_study(wanted, unix_now());
    });
    if (result.direction != wanted.direction)
      throw StorageError(path_.string() + ": study '" + wanted.name + "' was created to " +
                         goal_name(result.direction) + " its metric, not " + goal_name(wanted.direction) +
                         "; use another study name or storage file, or keep the metric goal");
    return result;
  }

  std::optional<StudyInfo> find_study(const std::string& name) override {
    std::optional<StudyInfo> result;
    transaction(Mode::read, "reading study '" + name + "'", [&] { result = select_study(name); });
    return result;
  }

  void change_study_config(int study_id, const std::string& config_yaml) override {
    transaction(Mode::write, "storing the study's configuration", [&] {
      Statement keep(connection_,
                     "INSERT INTO config_changes (study_id, changed_at, previous_yaml) "
                     "SELECT study_id, ?, config_yaml FROM studies WHERE study_id = ?");
      keep.bind(1, unix_now()).bind(2, study_id).run();
      Statement change(connection_, "UPDATE studies SET config_yaml = ? WHERE study_id = ?");
      change.bind(1, redacted_urls(config_yaml)).bind(2, study_id).run();
    });
  }

  std::vector<std::string> config_history(int study_id) override {
    std::vector<std::string> history;
    transaction(Mode::read, "reading the study's configuration history", [&] {
      history.clear();
      Statement select(connection_,
                       "SELECT previous_yaml FROM config_changes WHERE study_id = ? ORDER BY changed_at, rowid");
      select.bind(1, study_id);
      while (select.step()) history.push_back(select.column_text(0));
    });
    return history;
  }

  std::vector<StudyInfo> studies() override {
    std::vector<StudyInfo> result;
    transaction(Mode::read, "listing the studies", [&] {
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
    std::optional<TrialRecord> claimed;
    transaction(Mode::write, "claiming a trial", [&] {
      claimed.reset();
      const std::vector<TrialRecord> records = select_trials(study_id);
      const std::optional<ClaimChoice> choice = choose_claim(records, run_cap);
      if (!choice) return;
      const int number = choice->number;
      const bool fresh_start = choice->fresh_start;
      if (choice->is_new) insert_sampled_trial(study_id, number, sample(frozen_copies(records), number));
      mark_running(study_id, number, owner, fresh_start);
      claimed = select_trial(study_id, number);
    });
    return claimed;
  }

  std::optional<TrialRecord> claim_paused_trial(int study_id, int number, const TrialOwner& owner) override {
    std::optional<TrialRecord> claimed;
    transaction(Mode::write, "claiming trial " + std::to_string(number), [&] {
      claimed.reset();
      Statement take(connection_,
                     "UPDATE trials SET state = 'running', paused_epoch = 0, owner_host = ?, owner_pid = ?, "
                     "owner_token = ?, heartbeat = ?, claim_token = claim_token + 1 "
                     "WHERE study_id = ? AND number = ? AND state = 'waiting' AND paused_epoch > 0");
      take.bind(1, owner.host).bind(2, owner.pid).bind(3, owner.token).bind(4, unix_now());
      take.bind(5, study_id).bind(6, number).run();
      if (connection_.changes() == 1) claimed = select_trial(study_id, number);
    });
    return claimed;
  }

  bool record_intermediate(const TrialClaim& claim, int epoch, double value) override {
    return claimed_write(
        claim, "record an intermediate value of",
        "storing trial " + std::to_string(claim.number) + "'s value after epoch " + std::to_string(epoch), [&] {
          Statement insert(connection_,
                           (std::string("INSERT OR REPLACE INTO intermediate_values (trial_id, epoch, value) "
                                        "SELECT trial_id, ?, ? FROM trials") +
                            kClaimed)
                               .c_str());
          insert.bind(1, epoch).bind(2, value);
          bind_claim(insert, 3, claim).run();
          if (connection_.changes() != 1) return false;
          Statement beat(connection_, "UPDATE trials SET heartbeat = ? WHERE study_id = ? AND number = ?");
          beat.bind(1, unix_now()).bind(2, claim.study_id).bind(3, claim.number).run();
          return true;
        });
  }

  bool pause_trial(const TrialClaim& claim, int epoch, const std::string& checkpoint) override {
    return claimed_write(claim, "pause", "pausing trial " + std::to_string(claim.number), [&] {
      Statement pause(connection_, (std::string("UPDATE trials SET state = 'waiting', paused_epoch = ?, "
                                                "checkpoint_epoch = ?, checkpoint = ?") +
                                    kClaimed)
                                       .c_str());
      pause.bind(1, epoch).bind(2, epoch).bind_blob(3, checkpoint);
      bind_claim(pause, 4, claim).run();
      return connection_.changes() == 1;
    });
  }

  bool checkpoint_trial(const TrialClaim& claim, int epoch, const std::string& checkpoint) override {
    return claimed_write(
        claim, "checkpoint",
        "storing trial " + std::to_string(claim.number) + "'s checkpoint after epoch " + std::to_string(epoch), [&] {
          Statement keep(
              connection_,
              (std::string("UPDATE trials SET retries = CASE WHEN ? > checkpoint_epoch THEN 0 ELSE retries END, "
                           "checkpoint_epoch = ?, checkpoint = ?, heartbeat = ?") +
               kClaimed)
                  .c_str());
          keep.bind(1, epoch).bind(2, epoch).bind_blob(3, checkpoint).bind(4, unix_now());
          bind_claim(keep, 5, claim).run();
          return connection_.changes() == 1;
        });
  }

  bool suspend_trial(const TrialClaim& claim, int epoch, const std::string& checkpoint) override {
    return claimed_write(claim, "suspend", "saving trial " + std::to_string(claim.number) + " to continue later", [&] {
      Statement wait(connection_, (std::string("UPDATE trials SET state = 'waiting', paused_epoch = 0, "
                                               "checkpoint_epoch = ?, checkpoint = ?") +
                                   kClaimed)
                                      .c_str());
      wait.bind(1, epoch).bind_blob(2, checkpoint);
      bind_claim(wait, 3, claim).run();
      if (connection_.changes() != 1) return false;
      drop_values_after(claim.study_id, claim.number, epoch);
      return true;
    });
  }

  bool finish_trial(const TrialClaim& claim, RunState state, std::optional<double> value,
                    const std::string& message) override {
    if (!is_finished(state))
      throw StorageError("a trial can only finish complete, pruned or failed; a running trial pauses instead");
    return claimed_write(claim, "finish", "storing the end of trial " + std::to_string(claim.number), [&] {
      Statement finish(connection_,
                       (std::string("UPDATE trials SET state = ?, value = ?, message = ?, finished_at = ?, "
                                    "paused_epoch = 0, checkpoint_epoch = 0, checkpoint = NULL") +
                        kClaimed)
                           .c_str());
      finish.bind(1, state_name(state)).bind(2, value).bind(3, message).bind(4, unix_now());
      bind_claim(finish, 5, claim).run();
      return connection_.changes() == 1;
    });
  }

  bool prune_paused_trial(int study_id, int number, const std::string& message) override {
    bool pruned = false;
    transaction(Mode::write, "pruning trial " + std::to_string(number), [&] {
      Statement prune(connection_,
                      "UPDATE trials SET state = 'pruned', message = ?, finished_at = ?, paused_epoch = 0, "
                      "checkpoint_epoch = 0, checkpoint = NULL, value = (SELECT v.value FROM intermediate_values v "
                      "WHERE v.trial_id = trials.trial_id ORDER BY v.epoch DESC LIMIT 1) "
                      "WHERE study_id = ? AND number = ? AND state = 'waiting' AND paused_epoch > 0");
      prune.bind(1, message).bind(2, unix_now()).bind(3, study_id).bind(4, number).run();
      pruned = connection_.changes() == 1;
    });
    return pruned;
  }

  void heartbeat(const TrialOwner& owner) override {
    transaction(Mode::write, "the heartbeat of this process's trials", [&] {
      Statement beat(connection_,
                     "UPDATE trials SET heartbeat = ? WHERE state = 'running' AND owner_host = ? AND owner_pid = ? "
                     "AND owner_token = ?");
      beat.bind(1, unix_now()).bind(2, owner.host).bind(3, owner.pid).bind(4, owner.token).run();
    });
  }

  AbandonedTrials requeue_abandoned_trials(int study_id, const TrialOwner& me, double stale_after_seconds,
                                           int max_retries) override {
    AbandonedTrials abandoned;
    transaction(Mode::write, "looking for abandoned trials", [&] {
      abandoned = {};
      const double now = unix_now();
      for (const TrialRecord& record : select_trials(study_id)) {
        if (record.trial.state != RunState::running || !owner_gone(record, me, now, stale_after_seconds)) continue;
        if (record.retries >= max_retries) {
          fail_abandoned(study_id, record, abandoned_too_often_message(record, max_retries, now), now);
          abandoned.failed.push_back(record.trial.number);
        } else {
          requeue(study_id, record);
          abandoned.requeued.push_back(record.trial.number);
        }
      }
    });
    return abandoned;
  }

  std::vector<TrialRecord> trial_records(int study_id) override {
    std::vector<TrialRecord> records;
    transaction(Mode::read, "reading the trials", [&] { records = select_trials(study_id); });
    return records;
  }

  std::optional<TrialRecord> trial_record(int study_id, int number) override {
    std::optional<TrialRecord> record;
    transaction(Mode::read, "reading trial " + std::to_string(number),
                [&] { record = select_trial(study_id, number); });
    return record;
  }

  std::optional<std::string> load_checkpoint(int study_id, int number) override {
    std::optional<std::string> checkpoint;
    if (!has_checkpoint_column_) return checkpoint;  // an older database, opened read-only
    transaction(Mode::read, "reading trial " + std::to_string(number) + "'s checkpoint", [&] {
      checkpoint.reset();
      Statement select(connection_,
                       "SELECT checkpoint FROM trials WHERE study_id = ? AND number = ? AND checkpoint_epoch > 0 "
                       "AND checkpoint IS NOT NULL");
      select.bind(1, study_id).bind(2, number);
      if (select.step()) checkpoint = select.column_blob(0);
    });
    return checkpoint;
  }

  bool save_best_weights(int study_id, int number, const std::string& model) override {
    bool kept = false;
    transaction(Mode::write, "storing the best trial's weights", [&] {
      Statement direction(connection_, "SELECT direction FROM studies WHERE study_id = ?");
      direction.bind(1, study_id);
      if (!direction.step()) return;
      const std::vector<FrozenTrial> trials = frozen_copies(select_trials(study_id));
      kept = best_complete_number(trials, goal_from_name(direction.column_text(0))) == number;
      if (kept) store_best_weights(study_id, {number, model});
    });
    return kept;
  }

  std::optional<BestWeights> best_weights(int study_id) override {
    std::optional<BestWeights> best;
    transaction(Mode::read, "reading the best trial's weights", [&] {
      best.reset();
      if (!has_table("best_weights")) return;  // an older database, opened read-only
      Statement select(connection_, "SELECT number, model FROM best_weights WHERE study_id = ?");
      select.bind(1, study_id);
      if (select.step()) best = BestWeights{int(select.column_int(0)), select.column_blob(1)};
    });
    return best;
  }

  void import_study(const StudyDump& dump) override {
    transaction(Mode::write, "copying study '" + dump.study.name + "'", [&] {
      if (select_study(dump.study.name))
        throw StorageError(path_.string() + ": already has a study named '" + dump.study.name +
                           "'; copy into another database, or remove that study first");
      const int study_id = insert_study(dump.study, dump.study.created_at).id;
      for (const std::string& previous : dump.previous_configs) {
        Statement keep(connection_,
                       "INSERT INTO config_changes (study_id, changed_at, previous_yaml) VALUES (?, ?, ?)");
        keep.bind(1, study_id).bind(2, dump.study.created_at).bind(3, redacted_urls(previous)).run();
      }
      for (const TrialRecord& record : dump.trials) {
        const auto checkpoint = dump.checkpoints.find(record.trial.number);
        insert_trial_record(study_id, record, checkpoint == dump.checkpoints.end() ? nullptr : &checkpoint->second);
      }
      if (dump.best) store_best_weights(study_id, *dump.best);
    });
  }

 private:
  static Connection::Access connection_access(StorageAccess access) {
    return access == StorageAccess::read_only ? Connection::Access::read_only : Connection::Access::read_write;
  }

  // One transaction, tried again while another process holds the database's lock; the storage's
  // lock is held for each try only, so that this process's other threads go on between tries.
  void transaction(Mode mode, const std::string& what, const std::function<void()>& body) {
    retry_.run(what, [&] {
      std::lock_guard lock(mutex_);
      connection_.transaction(mode, body);
    });
  }

  // Runs one conditional write of a running trial in a write transaction: `write` returns whether
  // `claim` still held the trial. A trial that does not exist at all is an error, not a lost claim.
  template <typename Write>
  bool claimed_write(const TrialClaim& claim, const char* action, const std::string& what, Write&& write) {
    bool written = false;
    transaction(Mode::write, what, [&] {
      written = write();
      if (!written && !select_trial(claim.study_id, claim.number))
        throw StorageError(path_.string() + ": cannot " + action + " trial " + std::to_string(claim.number) +
                           " of study " + std::to_string(claim.study_id) +
                           ": no such trial; the study may have been deleted");
    });
    return written;
  }

  static Statement& bind_claim(Statement& statement, int first, const TrialClaim& claim) {
    return statement.bind(first, claim.study_id).bind(first + 1, claim.number).bind(first + 2, claim.token);
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
    bool had_checkpoint_files = false;
    transaction(Mode::write, "creating the study tables", [&] {
      check_version_known(schema_version());
      const bool existed = has_table("trials");
      connection_.execute(kSchema);  // what is missing
      if (existed) had_checkpoint_files = upgrade_trials_table();
      connection_.execute(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
    });
    if (had_checkpoint_files) {  // their states are in the database now
      std::error_code ignored;
      std::filesystem::remove_all(path_.string() + ".trials", ignored);
    }
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

  // Adds what schemas 1 and 2 lack; schema 2's checkpoint files move into the database. Whether
  // there were any.
  bool upgrade_trials_table() {
    for (const char* column : {"checkpoint_epoch", "claim_token", "retries"})
      if (!has_column("trials", column))
        connection_.execute(
            ("ALTER TABLE trials ADD COLUMN " + std::string(column) + " INTEGER NOT NULL DEFAULT 0").c_str());
    if (!has_column("trials", "checkpoint")) connection_.execute("ALTER TABLE trials ADD COLUMN checkpoint BLOB");
    if (!has_column("trials", "checkpoint_path")) return false;
    bool moved = false;
    Statement files(connection_, "SELECT trial_id, checkpoint_path FROM trials WHERE checkpoint_path != ''");
    std::vector<std::pair<std::int64_t, std::string>> found;
    while (files.step()) found.emplace_back(files.column_int(0), files.column_text(1));
    for (const auto& [trial_id, file] : found) {
      std::ifstream in(file, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      Statement move(connection_, "UPDATE trials SET checkpoint = ?, checkpoint_path = '' WHERE trial_id = ?");
      if (bytes.empty())
        move.bind_null(1);  // a file that is gone: the trial starts over when it runs again
      else
        move.bind_blob(1, bytes);
      move.bind(2, trial_id).run();
      moved = true;
    }
    return moved;
  }

  // A read-only open changes nothing: a file without mlptune's tables is refused, saying what it is,
  // and columns an older schema lacks read as 0.
  void check_readable() {
    transaction(Mode::read, "reading the study tables", [&] {
      if (!has_table("studies") || !has_table("trials") || !has_table("intermediate_values")) {
        std::string message = path_.string();  // appended to, clear of GCC 12's -Wrestrict false positive
        message += std::filesystem::file_size(path_) == 0 ? ": is empty, not an mlptune study database"
                                                          : ": is an SQLite file without mlptune's study tables";
        throw StorageError(message + "; " + sqlite::kStudyFileFix);
      }
      check_version_known(schema_version());
      trial_columns_ = kTrialColumns;
      for (const char* column : kLaterTrialColumns)
        trial_columns_ += has_column("trials", column) ? ", " + std::string(column) : ", 0";
      has_checkpoint_column_ = has_column("trials", "checkpoint");
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

  StudyInfo insert_study(const StudyInfo& study, double created_at) {
    Statement insert(connection_,
                     "INSERT INTO studies (name, direction, config_yaml, seed, created_at) VALUES (?, ?, ?, ?, ?)");
    insert.bind(1, study.name).bind(2, goal_name(study.direction)).bind(3, redacted_urls(study.config_yaml));
    insert.bind(4, std::int64_t(study.seed)).bind(5, created_at).run();
    return *select_study(study.name);
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

  void insert_sampled_trial(int study_id, int number, const SampledTrial& sampled) {
    Statement insert(connection_,
                     "INSERT INTO trials (study_id, number, state, params_json, attributes_json, seed) "
                     "VALUES (?, ?, 'waiting', ?, ?, ?)");
    insert.bind(1, study_id).bind(2, number).bind(3, params_to_json_text(sampled.params, sampled.distributions));
    insert.bind(4, string_map_to_json_text(sampled.attributes)).bind(5, std::int64_t(sampled.seed)).run();
  }

  // A trial as another storage had it, with its values and checkpoint.
  void insert_trial_record(int study_id, const TrialRecord& record, const std::string* checkpoint) {
    const FrozenTrial& trial = record.trial;
    Statement insert(connection_,
                     "INSERT INTO trials (study_id, number, state, params_json, attributes_json, value, seed, message, "
                     "started_at, finished_at, owner_host, owner_pid, owner_token, heartbeat, paused_epoch, "
                     "checkpoint_epoch, checkpoint, claim_token, retries) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert.bind(1, study_id).bind(2, trial.number).bind(3, state_name(trial.state));
    insert.bind(4, params_to_json_text(trial.params, record.distributions));
    insert.bind(5, string_map_to_json_text(record.attributes)).bind(6, trial.value);
    insert.bind(7, std::int64_t(trial.seed)).bind(8, trial.message).bind(9, trial.started_at);
    insert.bind(10, trial.finished_at).bind(11, record.owner.host).bind(12, record.owner.pid);
    insert.bind(13, record.owner.token).bind(14, record.heartbeat).bind(15, trial.paused_epoch);
    insert.bind(16, checkpoint ? record.checkpoint_epoch : 0);
    if (checkpoint)
      insert.bind_blob(17, *checkpoint);
    else
      insert.bind_null(17);
    insert.bind(18, record.claim_token).bind(19, record.retries).run();
    const std::int64_t trial_id = connection_.last_insert_rowid();
    for (const auto& [epoch, value] : trial.intermediate) {
      Statement value_row(connection_, "INSERT INTO intermediate_values (trial_id, epoch, value) VALUES (?, ?, ?)");
      value_row.bind(1, trial_id).bind(2, epoch).bind(3, value).run();
    }
  }

  void store_best_weights(int study_id, const BestWeights& best) {
    Statement keep(connection_, "INSERT OR REPLACE INTO best_weights (study_id, number, model) VALUES (?, ?, ?)");
    keep.bind(1, study_id).bind(2, best.number).bind_blob(3, best.model).run();
  }

  void mark_running(int study_id, int number, const TrialOwner& owner, bool fresh_start) {
    const double now = unix_now();
    Statement update(
        connection_,
        "UPDATE trials SET state = 'running', owner_host = ?, owner_pid = ?, owner_token = ?, heartbeat = ?, "
        "claim_token = claim_token + 1, started_at = CASE WHEN ? THEN ? ELSE started_at END "
        "WHERE study_id = ? AND number = ?");
    update.bind(1, owner.host).bind(2, owner.pid).bind(3, owner.token).bind(4, now);
    update.bind(5, int(fresh_start)).bind(6, now).bind(7, study_id).bind(8, number).run();
  }

  void drop_values_after(int study_id, int number, int epoch) {
    Statement drop_values(connection_,
                          "DELETE FROM intermediate_values WHERE epoch > ? AND trial_id = "
                          "(SELECT trial_id FROM trials WHERE study_id = ? AND number = ?)");
    drop_values.bind(1, epoch).bind(2, study_id).bind(3, number).run();
  }

  // The trial runs again: from its last checkpoint when there is one (values after that epoch are
  // dropped: they are reported again), else from the start.
  void requeue(int study_id, const TrialRecord& record) {
    const int number = record.trial.number;
    Statement has_state(connection_,
                        "SELECT 1 FROM trials WHERE study_id = ? AND number = ? AND checkpoint IS NOT NULL");
    has_state.bind(1, study_id).bind(2, number);
    const bool resumable = record.checkpoint_epoch > 0 && has_state.step();
    const int kept_epochs = resumable ? record.checkpoint_epoch : 0;
    drop_values_after(study_id, number, kept_epochs);
    Statement reset(connection_,
                    "UPDATE trials SET state = 'waiting', value = NULL, message = '', paused_epoch = 0, "
                    "checkpoint_epoch = ?, checkpoint = CASE WHEN ? THEN checkpoint ELSE NULL END, "
                    "started_at = CASE WHEN ? THEN started_at ELSE 0 END, finished_at = 0, retries = retries + 1 "
                    "WHERE study_id = ? AND number = ?");
    reset.bind(1, kept_epochs).bind(2, int(resumable)).bind(3, int(resumable)).bind(4, study_id).bind(5, number).run();
  }

  void fail_abandoned(int study_id, const TrialRecord& record, const std::string& message, double now) {
    Statement fail(connection_,
                   "UPDATE trials SET state = 'failed', value = NULL, message = ?, finished_at = ?, paused_epoch = 0, "
                   "checkpoint_epoch = 0, checkpoint = NULL WHERE study_id = ? AND number = ?");
    fail.bind(1, message).bind(2, now).bind(3, study_id).bind(4, record.trial.number).run();
  }

  std::filesystem::path path_;
  StorageRetry retry_;
  std::mutex mutex_;  // one thread at a time on the connection
  Connection connection_;
  std::string trial_columns_ = std::string(kTrialColumns) + ", checkpoint_epoch, claim_token, retries";
  bool has_checkpoint_column_ = true;
};

// What a path that is no regular file is, for the message that refuses it ("" for a regular file
// or a missing one). Opening a FIFO would hang; a folder or a device fails with "disk I/O error".
std::string_view kind_of_special_file(const std::filesystem::path& path) {
  std::error_code error;
  switch (std::filesystem::status(path, error).type()) {
    case std::filesystem::file_type::directory:
      return "a folder";
    case std::filesystem::file_type::fifo:
      return "a FIFO (named pipe)";
    case std::filesystem::file_type::block:
    case std::filesystem::file_type::character:
      return "a device";
    case std::filesystem::file_type::socket:
      return "a socket";
    default:
      return "";
  }
}

}  // namespace

std::unique_ptr<Storage> open_sqlite_storage(const std::filesystem::path& path, const SqliteOptions& options) {
  if (const std::string_view kind = kind_of_special_file(path); !kind.empty())
    throw StorageError(path.string() + ": is " + std::string(kind) + ", not a study file; " + sqlite::kStudyFileFix);
  std::error_code error;
  if (options.access == StorageAccess::read_only && !std::filesystem::exists(path, error))
    throw StorageError(path.string() +
                       ": no such study file (it is the --storage of `mlptune tune`, e.g. "
                       "out/mnist.db)");
  return std::make_unique<SqliteStorage>(path, options);
}

std::filesystem::path best_weights_path(const std::filesystem::path& database) {
  return database.string() + ".best.safetensors";
}

}  // namespace mlptune::tune
