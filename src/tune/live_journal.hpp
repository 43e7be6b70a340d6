// The Optuna journal of a running study (`mlptune tune --journal FILE`): appended as the study
// goes, so optuna-dashboard FILE follows it live.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/periodic_thread.hpp"
#include "mlptune/tune/storage.hpp"
#include "mlptune/tune/study.hpp"
#include "tune/optuna_journal.hpp"

namespace mlptune::tune {

// The journal file a study writes: --journal, else mlptune.journal; empty: none.
std::filesystem::path resolve_journal_path(const StudyConfig& config, const StudyOptions& options);

// Throws ConfigError, before the study creates anything, when the configured journal cannot be
// written (a folder, a device, a missing folder) or holds something other than the Optuna journal
// of this study, saying what to do instead.
void check_journal_path(const StudyConfig& config, const StudyOptions& options);

// Follows a study's storage into its journal file. The file is the storage's mirror: each sync
// reads what the file holds (records other mlptune processes of the study appended included) and
// appends the records that bring it level with the storage, so a resumed study, or a second
// process on it, appends only what is new and never a trial twice. Every record is one line,
// written with one write(2) to the file opened O_APPEND, under an exclusive flock(2) held over the
// read and the writes; a reader such as optuna-dashboard never sees a torn record. A write that
// fails (no space left, a file-size limit) is cut off again, so the file stays whole. A file
// removed or replaced while the study runs is written afresh at its path.
class LiveJournal {
 public:
  using WarningFn = std::function<void(const std::string&)>;

  // Opens (or creates) the file and syncs once: throws Error naming the file when it cannot be
  // opened or written, or is not this study's journal.
  LiveJournal(const std::filesystem::path& path, Storage& storage, const StudyInfo& study,
              std::vector<std::string> metric_names, WarningFn warn, double interval_seconds = 0.5);
  ~LiveJournal();  // stop()
  LiveJournal(const LiveJournal&) = delete;
  LiveJournal& operator=(const LiveJournal&) = delete;

  // Syncs every interval on a thread of its own until stop(). A failed sync is a warning, once per
  // distinct message; the study goes on (its storage holds everything) and the next sync retries.
  void follow();
  // Stops following and syncs a last time (a failure is a warning).
  void stop();
  // Brings the file level with the storage now. Throws Error naming the file.
  void sync();

 private:
  void reopen_if_replaced();
  void read_new_records();
  std::size_t read_complete_lines();  // returns the bytes of an unfinished last line
  void append(const std::string& record);
  void sync_or_warn();
  [[noreturn]] void fail(const std::string& what, int error_number) const;

  std::filesystem::path path_;
  Storage& storage_;
  StudyInfo study_;
  std::vector<std::string> metric_names_;
  WarningFn warn_;
  double interval_seconds_;
  std::string worker_id_;
  int descriptor_ = -1;
  std::mutex sync_mutex_;  // one sync at a time in this process (flock orders processes)
  JournalState journal_;   // what the file holds, as far as read
  std::uint64_t read_offset_ = 0;
  int lines_read_ = 0;

  std::mutex warning_mutex_;
  std::string last_warning_;

  std::mutex mutex_;  // follow() and stop()
  bool stopped_ = false;
  std::optional<PeriodicThread> follower_;  // last: it stops before the members above go
};

// The study's journal when one is configured (after check_journal_path), else null.
std::unique_ptr<LiveJournal> open_live_journal(const StudyConfig& config, const StudyOptions& options, Storage& storage,
                                               const StudyInfo& study, LiveJournal::WarningFn warn);

}  // namespace mlptune::tune
