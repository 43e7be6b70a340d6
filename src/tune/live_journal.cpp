// A running study's Optuna journal: read what the file holds, append what the storage has that it
// lacks, one line per write(2), under flock(2).
#include "tune/live_journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "io/output_file.hpp"
#include "mlptune/error.hpp"

namespace mlptune::tune {
namespace {

namespace fs = std::filesystem;

constexpr const char* kWhat = "the Optuna journal";

std::string refusal_fix() {
  return "give --journal (or mlptune.journal) another file, or remove this one to write the study's journal afresh";
}

// Replays the complete lines of `text` into `journal`; returns the bytes they take (a last line
// without its newline is not counted). `first_line` numbers the lines for messages. Throws
// ConfigError naming the file and line when a line is not a record of one study's journal, or the
// study is another one.
std::size_t replay_lines(JournalState& journal, std::string_view text, const fs::path& path, int& line_number,
                         const std::string& study_name) {
  std::size_t consumed = 0;
  for (;;) {
    const std::size_t end = text.find('\n', consumed);
    if (end == std::string_view::npos) return consumed;
    ++line_number;
    try {
      apply_journal_record(journal, text.substr(consumed, end - consumed));
    } catch (const Error& error) {
      throw ConfigError(path.string() + ":" + std::to_string(line_number) + ": not the Optuna journal of study '" +
                        study_name + "' (" + error.what() + "); " + refusal_fix());
    }
    if (journal.study_name && *journal.study_name != study_name)
      throw ConfigError(path.string() + ": is the Optuna journal of study '" + *journal.study_name + "', not of '" +
                        study_name + "'; " + refusal_fix());
    consumed = end + 1;
  }
}

std::string read_whole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The user's trial settings, as a trial's journal attribute and its record both carry them.
bool same_trials(const JournalState& journal, const std::vector<TrialRecord>& records, std::string& difference) {
  if (journal.trials.size() > records.size()) {
    difference =
        "it holds " + std::to_string(journal.trials.size()) + " trials and the study " + std::to_string(records.size());
    return false;
  }
  for (std::size_t number = 0; number < journal.trials.size(); ++number) {
    const auto held = journal.trials[number].user_attrs.find("command");
    const auto stored = records[number].attributes.find("command");
    if (held != journal.trials[number].user_attrs.end() && stored != records[number].attributes.end() &&
        held->second != stored->second) {
      difference = "its trial " + std::to_string(number) + " ran other settings than the study's";
      return false;
    }
  }
  return true;
}

}  // namespace

fs::path resolve_journal_path(const StudyConfig& config, const StudyOptions& options) {
  return options.journal_path.empty() ? fs::path(config.settings.journal) : options.journal_path;
}

void check_journal_path(const StudyConfig& config, const StudyOptions& options) {
  const fs::path path = resolve_journal_path(config, options);
  if (path.empty()) return;
  try {
    io::checked_output_path(path, kWhat);
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& error) {
    throw ConfigError(error.what());
  }
  std::error_code error;
  if (!fs::exists(path, error)) return;
  JournalState journal;
  int line_number = 0;
  replay_lines(journal, read_whole(path), path, line_number, resolve_study_name(config));
}

std::unique_ptr<LiveJournal> open_live_journal(const StudyConfig& config, const StudyOptions& options, Storage& storage,
                                               const StudyInfo& study, LiveJournal::WarningFn warn) {
  const fs::path path = resolve_journal_path(config, options);
  if (path.empty()) return nullptr;
  return std::make_unique<LiveJournal>(path, storage, study, journal_metric_names(config), std::move(warn));
}

LiveJournal::LiveJournal(const fs::path& path, Storage& storage, const StudyInfo& study,
                         std::vector<std::string> metric_names, WarningFn warn, double interval_seconds)
    : path_(path),
      storage_(storage),
      study_(study),
      metric_names_(std::move(metric_names)),
      warn_(std::move(warn)),
      interval_seconds_(interval_seconds) {
  const TrialOwner owner = current_owner();
  worker_id_ = "mlptune-";  // appended to, clear of GCC 12's -Wrestrict false positive
  worker_id_ += owner.host + "-" + std::to_string(owner.pid);
  descriptor_ = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (descriptor_ < 0) fail("cannot open", errno);
  try {
    sync();
  } catch (...) {
    ::close(descriptor_);
    throw;
  }
}

LiveJournal::~LiveJournal() {
  stop();
  ::close(descriptor_);
}

void LiveJournal::fail(const std::string& what, int error_number) const {
  const io::WriteFailureReason why = io::write_failure_reason(error_number);
  throw StorageError(path_.string() + ": " + what + " " + kWhat + " (" + why.cause + "); " + why.fix);
}

// The file at the path, when it is no longer the one open here (removed, or replaced by another
// program): the journal starts again there, written whole.
void LiveJournal::reopen_if_replaced() {
  struct stat open_file {
  }, at_path{};
  if (::fstat(descriptor_, &open_file) != 0) fail("cannot read", errno);
  if (::stat(path_.c_str(), &at_path) == 0 && at_path.st_dev == open_file.st_dev && at_path.st_ino == open_file.st_ino)
    return;
  const int descriptor = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (descriptor < 0) fail("cannot open", errno);
  ::close(descriptor_);
  descriptor_ = descriptor;
  journal_ = JournalState{};
  read_offset_ = 0;
  lines_read_ = 0;
}

void LiveJournal::sync() {
  std::lock_guard lock(sync_mutex_);
  reopen_if_replaced();
  while (::flock(descriptor_, LOCK_EX) != 0)
    if (errno != EINTR) fail("cannot lock", errno);
  struct Unlock {
    int descriptor;
    ~Unlock() { ::flock(descriptor, LOCK_UN); }
  } unlock{descriptor_};
  read_new_records();
  // Read after the lock: what another process appended before it is in journal_ already, so the
  // records below never repeat it, and never take the file back to an older view of the storage.
  const std::vector<TrialRecord> records = storage_.trial_records(study_.id);
  std::string difference;
  if (!same_trials(journal_, records, difference))
    throw ConfigError(path_.string() + ": is not the journal of study '" + study_.name + "' in this storage (" +
                      difference + "); " + refusal_fix());
  const std::vector<std::string> lines =
      journal_records_to_catch_up(journal_, study_, metric_names_, records, worker_id_);
  for (const std::string& line : lines) append(line);
  if (lines.empty()) return;
  if (::fdatasync(descriptor_) != 0) fail("cannot write", errno);
  read_new_records();  // the records just written, as any reader sees them
}

void LiveJournal::read_new_records() {
  // A last line without its newline is a record being written by a program that does not take the
  // lock (optuna-dashboard saving a note), or a torn one that a writer left when it died or ran out
  // of space. The first grows within moments; the second never does, and goes.
  for (int look = 0;; ++look) {
    const std::size_t torn = read_complete_lines();
    if (torn == 0) return;
    if (look < 3) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    if (::ftruncate(descriptor_, off_t(read_offset_)) != 0) fail("cannot repair", errno);
    if (warn_)
      warn_(path_.string() + ": removed a torn last record (" + std::to_string(torn) +
            " bytes) that an interrupted writer left");
    return;
  }
}

std::size_t LiveJournal::read_complete_lines() {
  struct stat status {};
  if (::fstat(descriptor_, &status) != 0) fail("cannot read", errno);
  const auto size = std::uint64_t(status.st_size);
  if (size < read_offset_) {  // cut short or replaced by someone: read it again from the start
    journal_ = JournalState{};
    read_offset_ = 0;
    lines_read_ = 0;
  }
  std::string text(std::size_t(size - read_offset_), '\0');
  std::size_t have = 0;
  while (have < text.size()) {
    const ssize_t got = ::pread(descriptor_, text.data() + have, text.size() - have, off_t(read_offset_ + have));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail("cannot read", errno);
    if (got == 0) break;
    have += std::size_t(got);
  }
  text.resize(have);
  const std::size_t consumed = replay_lines(journal_, text, path_, lines_read_, study_.name);
  read_offset_ += consumed;
  return text.size() - consumed;
}

void LiveJournal::append(const std::string& record) {
  struct stat status {};
  if (::fstat(descriptor_, &status) != 0) fail("cannot write", errno);
  std::size_t done = 0;
  while (done < record.size()) {
    // The whole line in one write; only a short one (the device or the size limit full) needs
    // another, which then completes the line or says why it cannot.
    const ssize_t written = ::write(descriptor_, record.data() + done, record.size() - done);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      const int error_number = written < 0 ? errno : ENOSPC;
      if (done > 0 && ::ftruncate(descriptor_, status.st_size) != 0) fail("cannot cut a torn record from", errno);
      fail("cannot append to", error_number);
    }
    done += std::size_t(written);
  }
}

void LiveJournal::follow() {
  std::lock_guard lock(mutex_);
  if (follower_ || stopped_) return;
  follower_.emplace(interval_seconds_, [this] { sync_or_warn(); });
}

void LiveJournal::sync_or_warn() {
  try {
    sync();
  } catch (const std::exception& error) {
    std::string warning = error.what();
    warning += " (the study goes on; its journal catches up once it can be written)";
    std::lock_guard lock(warning_mutex_);
    if (warning == last_warning_) return;
    last_warning_ = warning;
    if (warn_) warn_(warning);
  }
}

void LiveJournal::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    follower_.reset();  // waits for a sync in progress
  }
  sync_or_warn();  // the study's last states
}

}  // namespace mlptune::tune
