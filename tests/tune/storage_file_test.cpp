// The SQLite study file itself: read-only opens that create and change nothing and say what a
// wrong file is, and schema versions (older files upgraded, newer ones refused).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "mlptune/tune/storage.hpp"
#include "thrown_message.hpp"
#include "tune/study_test_support.hpp"

namespace mlptune::tune {
namespace {

using ::mlptune::testing::thrown_message;
using testing::TempFolder;

const SqliteOptions kReadOnly{.access = StorageAccess::read_only};

std::string open_error(const std::filesystem::path& path) {
  try {
    open_sqlite_storage(path, kReadOnly)->studies();
  } catch (const StorageError& error) {
    return error.what();
  }
  ADD_FAILURE() << "opening " << path << " read-only succeeded";
  return "";
}

void execute(const std::filesystem::path& database, const std::string& sql) {
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open(database.c_str(), &handle), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(handle);
}

TEST(StorageFile, ReadOnlyOpensRefuseWhatIsNotAStudyAndChangeNothing) {
  TempFolder folder;
  { std::ofstream(folder.file("empty.db")); }
  EXPECT_NE(open_error(folder.file("empty.db")).find("empty.db: is empty, not an mlptune study database"),
            std::string::npos);
  EXPECT_EQ(std::filesystem::file_size(folder.file("empty.db")), 0u) << "no schema written into it";

  { std::ofstream(folder.file("notes.txt")) << std::string(2000, 'x'); }
  EXPECT_NE(open_error(folder.file("notes.txt")).find("notes.txt: is not a study database (not an SQLite file)"),
            std::string::npos);

  execute(folder.file("other.db"), "CREATE TABLE photos (id INTEGER)");
  EXPECT_NE(open_error(folder.file("other.db")).find("an SQLite file without mlptune's study tables"),
            std::string::npos);

  EXPECT_NE(open_error(folder.file("")).find("is a folder, not a study file"), std::string::npos);
  EXPECT_NE(open_error(folder.file("missing.db")).find("no such study file"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(folder.file("missing.db")));
}

// A FIFO would hang the open, a folder or a device fail with "disk I/O error": each is refused at
// once, saying what it is, read-only or not.
TEST(StorageFile, AFifoAFolderOrADeviceIsRefusedAtOnceSayingWhatItIs) {
  TempFolder folder;
  const auto fifo = folder.file("pipe.db");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const StorageAccess access : {StorageAccess::read_only, StorageAccess::read_write}) {
    const std::string message =
        thrown_message<StorageError>([&] { open_sqlite_storage(fifo, {.access = access})->studies(); });
    EXPECT_NE(message.find("pipe.db: is a FIFO (named pipe), not a study file; give the file `mlptune tune` wrote"),
              std::string::npos)
        << message;
    EXPECT_NE(thrown_message<StorageError>([&] {
                open_sqlite_storage("/dev/null", {.access = access});
              }).find("/dev/null: is a device, not a study file"),
              std::string::npos);
    EXPECT_NE(thrown_message<StorageError>([&] {
                open_sqlite_storage(folder.file(""), {.access = access});
              }).find("is a folder, not a study file"),
              std::string::npos);
  }
}

// A read-only open writes nothing beside the study (no -wal, no -shm) when no process has it open,
// and reads through the writer's own -wal while one does (the test above).
TEST(StorageFile, AReadOnlyOpenLeavesNoFileBesideTheStudy) {
  TempFolder folder;
  const auto database = folder.file("study.db");
  {
    auto writer = open_sqlite_storage(database);
    const int study = writer->open_or_create_study({0, "s", Goal::minimize, "", 1, 0.0}).id;
    writer->claim_trial(study, current_owner(), 0, [](std::span<const FrozenTrial>, int) { return SampledTrial{}; });
  }
  ASSERT_FALSE(std::filesystem::exists(database.string() + "-wal"));
  {
    auto reader = open_sqlite_storage(database, kReadOnly);
    EXPECT_EQ(reader->trial_records(reader->find_study("s")->id).size(), 1u);
    EXPECT_FALSE(std::filesystem::exists(database.string() + "-wal"));
    EXPECT_FALSE(std::filesystem::exists(database.string() + "-shm"));
  }
  EXPECT_FALSE(std::filesystem::exists(database.string() + "-wal"));
  EXPECT_FALSE(std::filesystem::exists(database.string() + "-shm"));
}

TEST(StorageFile, AStudyReadsReadOnlyWhileAnotherConnectionWrites) {
  TempFolder folder;
  auto writer = open_sqlite_storage(folder.file("study.db"));
  const int study = writer->open_or_create_study({0, "s", Goal::minimize, "", 1, 0.0}).id;
  writer->claim_trial(study, current_owner(), 0, [](std::span<const FrozenTrial>, int) { return SampledTrial{}; });
  auto reader = open_sqlite_storage(folder.file("study.db"), kReadOnly);
  EXPECT_EQ(reader->trial_records(study).size(), 1u);
  EXPECT_THROW(reader->open_or_create_study({0, "t", Goal::minimize, "", 1, 0.0}), StorageError);
}

// The first schema had no checkpoints of running trials: such a file reads as is, and the first
// read-write open upgrades it.
TEST(StorageFile, AFileOfTheFirstSchemaIsReadAndUpgraded) {
  TempFolder folder;
  const auto database = folder.file("old.db");
  {
    auto storage = open_sqlite_storage(database);
    const int study = storage->open_or_create_study({0, "s", Goal::minimize, "", 1, 0.0}).id;
    storage->claim_trial(study, current_owner(), 0, [](std::span<const FrozenTrial>, int) { return SampledTrial{}; });
  }
  execute(database,
          "ALTER TABLE trials DROP COLUMN checkpoint_epoch; DROP TABLE config_changes; "
          "PRAGMA user_version = 0");
  EXPECT_EQ(open_sqlite_storage(database, kReadOnly)->trial_records(1).size(), 1u);
  auto upgraded = open_sqlite_storage(database);
  EXPECT_EQ(upgraded->trial_records(1).front().checkpoint_epoch, 0);
  EXPECT_TRUE(upgraded->checkpoint_trial(upgraded->trial_records(1).front().claim(1), 1, "x"));
}

// The second schema kept checkpoints as files beside the database, named by trials.checkpoint_path:
// the first read-write open moves them into the database, and a paused trial resumes from there.
TEST(StorageFile, AFileOfTheSecondSchemaHasItsCheckpointFilesMovedIntoTheDatabase) {
  TempFolder folder;
  const auto database = folder.file("v2.db");
  {
    auto storage = open_sqlite_storage(database);
    const int study = storage->open_or_create_study({0, "s", Goal::minimize, "", 1, 0.0}).id;
    for (int i = 0; i < 2; ++i) {
      const auto claimed = storage->claim_trial(study, current_owner(), 0,
                                                [](std::span<const FrozenTrial>, int) { return SampledTrial{}; });
      storage->record_intermediate(claimed->claim(study), 2, 0.5);
      storage->pause_trial(claimed->claim(study), 2, "");
    }
  }
  std::filesystem::create_directories(folder.file("v2.db.trials/1"));
  { std::ofstream(folder.file("v2.db.trials/1/0.a.safetensors"), std::ios::binary) << std::string("state\0of 0", 10); }
  execute(database,
          "ALTER TABLE trials DROP COLUMN checkpoint; ALTER TABLE trials DROP COLUMN claim_token; "
          "ALTER TABLE trials DROP COLUMN retries; DROP TABLE best_weights; "
          "ALTER TABLE trials ADD COLUMN checkpoint_path TEXT NOT NULL DEFAULT ''; "
          "UPDATE trials SET checkpoint_path = '" +
              folder.file("v2.db.trials/1/0.a.safetensors").string() +
              "' WHERE number = 0; UPDATE trials SET checkpoint_path = '" + folder.file("gone.safetensors").string() +
              "' WHERE number = 1; PRAGMA user_version = 2");
  {
    auto old = open_sqlite_storage(database, kReadOnly);
    EXPECT_EQ(old->trial_records(1).size(), 2u) << "read as it is";
    EXPECT_FALSE(old->best_weights(1).has_value());
  }
  auto upgraded = open_sqlite_storage(database);
  EXPECT_EQ(upgraded->load_checkpoint(1, 0), std::string("state\0of 0", 10));
  EXPECT_FALSE(upgraded->load_checkpoint(1, 1).has_value()) << "its file was gone";
  EXPECT_FALSE(std::filesystem::exists(folder.file("v2.db.trials"))) << "the files are in the database now";
  EXPECT_TRUE(upgraded->claim_paused_trial(1, 0, current_owner()).has_value());
}

TEST(StorageFile, AFileOfANewerSchemaIsRefused) {
  TempFolder folder;
  const auto database = folder.file("new.db");
  open_sqlite_storage(database);
  execute(database, "PRAGMA user_version = 99");
  for (const auto access : {StorageAccess::read_write, StorageAccess::read_only}) {
    try {
      open_sqlite_storage(database, {.access = access});
      ADD_FAILURE() << "a schema from a newer version was opened";
    } catch (const StorageError& error) {
      EXPECT_NE(std::string(error.what()).find("schema version 99, newer than this mlptune knows"), std::string::npos)
          << error.what();
    }
  }
}

}  // namespace
}  // namespace mlptune::tune
