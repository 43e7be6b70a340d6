// A database out of reach for a while: an SQLite file another process keeps locked, a PostgreSQL
// database that refuses connections. The intermediate-value writer rides out an outage shorter than
// the retry window without losing a value, says once that it retries, leaves the storage to the
// process's other threads meanwhile, and fails within the window when the outage lasts longer.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "mlptune/tune/storage.hpp"
#include "temp_folder.hpp"
#include "thrown_message.hpp"
#include "tune/intermediate_writer.hpp"
#include "tune/postgres_test_support.hpp"

namespace mlptune::tune {
namespace {

using ::mlptune::testing::thrown_message;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// What a storage's notice said, and a wait for its next line.
class Notices {
 public:
  RetryOptions retry(double window_seconds) {
    return {.window_seconds = window_seconds, .notice = [this](const std::string& notice) {
              std::lock_guard lock(mutex_);
              lines_.push_back(notice);
              changed_.notify_all();
            }};
  }
  // Whether there are `count` lines within a minute (far beyond what a notice takes to come).
  bool wait_for(std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::minutes(1), [&] { return lines_.size() >= count; });
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
};

SampleTrialFn no_params() {
  return [](std::span<const FrozenTrial>, int) { return SampledTrial{}; };
}

// Another process's connection to an SQLite file, holding its write lock from lock() to unlock().
class LockingConnection {
 public:
  explicit LockingConnection(const std::filesystem::path& path) { sqlite3_open(path.c_str(), &handle_); }
  ~LockingConnection() { sqlite3_close(handle_); }
  void lock() { EXPECT_EQ(sqlite3_exec(handle_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK); }
  void unlock() { EXPECT_EQ(sqlite3_exec(handle_, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK); }

 private:
  sqlite3* handle_ = nullptr;
};

TEST(StorageOutage, AnSqliteLockShorterThanTheWindowDelaysTheValueAndHoldsUpNoOtherThread) {
  ::mlptune::testing::TempFolder folder;
  Notices notices;
  auto storage = open_sqlite_storage(folder.file("study.db"), {.retry = notices.retry(600.0)});
  const int study = storage->open_or_create_study({0, "s", Goal::minimize, "", 1, 0.0}).id;
  const TrialClaim claim = storage->claim_trial(study, current_owner(), 0, no_params())->claim(study);

  LockingConnection other(folder.file("study.db"));
  other.lock();
  IntermediateWriter writer(*storage);
  writer.record(claim, 1, 0.25);
  ASSERT_TRUE(notices.wait_for(1)) << "retrying is said when it starts";
  EXPECT_TRUE(contains(notices.lines()[0],
                       "study.db: the database is locked by another process; storing trial 0's "
                       "value after epoch 1 is tried again for up to 10m00s"))
      << notices.lines()[0];
  // The live view and the heartbeat's search for abandoned trials read on while the write waits.
  EXPECT_TRUE(storage->trial_records(study)[0].trial.intermediate.empty());
  EXPECT_EQ(notices.lines().size(), 1u) << "said once";

  other.unlock();
  writer.flush();
  EXPECT_EQ(storage->trial_records(study)[0].trial.intermediate, (std::map<int, double>{{1, 0.25}}));
  ASSERT_TRUE(notices.wait_for(2));
  EXPECT_TRUE(contains(notices.lines()[1], "study.db: reachable again after")) << notices.lines()[1];
  writer.record(claim, 2, 0.5);
  writer.flush();
  EXPECT_EQ(storage->trial_records(study)[0].trial.intermediate.size(), 2u);
}

TEST(StorageOutage, AnSqliteLockLongerThanTheWindowFailsWithTheFixWhileItIsHeld) {
  ::mlptune::testing::TempFolder folder;
  Notices notices;
  auto storage = open_sqlite_storage(folder.file("study.db"), {.retry = notices.retry(0.5)});
  const int study = storage->open_or_create_study({0, "s", Goal::minimize, "", 1, 0.0}).id;
  const TrialClaim claim = storage->claim_trial(study, current_owner(), 0, no_params())->claim(study);

  LockingConnection other(folder.file("study.db"));
  other.lock();
  IntermediateWriter writer(*storage);
  writer.record(claim, 1, 0.25);
  const std::string message = thrown_message<StorageError>([&] { writer.flush(); });
  EXPECT_TRUE(contains(message,
                       "study.db: the database is locked by another process, still after trying again "
                       "for 0.5s (while storing trial 0's value after epoch 1); end the program that "
                       "holds it (`fuser "))
      << message;
  EXPECT_TRUE(contains(message, "then run the same command again to resume the study")) << message;
  EXPECT_THROW(writer.rethrow_failure(), StorageError) << "every epoch report after it stops the study";
  // Every thread gives up at the window's end, not a window after its own first try.
  EXPECT_THROW(storage->heartbeat(current_owner()), StorageError);
  other.unlock();
  EXPECT_EQ(notices.lines().size(), 1u);
}

// The PostgreSQL server refuses this database's connections (and drops those it has) until
// reopen(): to the client, as a server that went away and came back.
class PostgresOutage : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto url = testing::postgres_server_url();
    if (!url) GTEST_SKIP() << testing::kNoPostgresServer;
    database_.emplace(*url);
    server_ = *url;
  }
  void close() {
    auto superuser = testing::superuser_connection(server_);
    superuser.exec("ALTER DATABASE " + database_->name() + " ALLOW_CONNECTIONS false");
    superuser.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", {database_->name()});
  }
  void reopen() {
    testing::superuser_connection(server_).exec("ALTER DATABASE " + database_->name() + " ALLOW_CONNECTIONS true");
  }

  std::string server_;
  std::optional<testing::TestDatabase> database_;
};

TEST_F(PostgresOutage, AServerBackWithinTheWindowGetsEveryValue) {
  Notices notices;
  auto storage = open_postgres_storage(database_->url(), {.retry = notices.retry(600.0)});
  const int study = storage->open_or_create_study({0, "s", Goal::minimize, "", 1, 0.0}).id;
  const TrialClaim claim = storage->claim_trial(study, current_owner(), 0, no_params())->claim(study);
  close();
  IntermediateWriter writer(*storage);
  writer.record(claim, 1, 0.25);
  ASSERT_TRUE(notices.wait_for(1));
  EXPECT_TRUE(contains(notices.lines()[0], "the PostgreSQL server")) << notices.lines()[0];
  EXPECT_TRUE(contains(notices.lines()[0], "storing trial 0's value after epoch 1 is tried again for up to 10m00s"))
      << notices.lines()[0];
  reopen();
  writer.flush();
  storage->heartbeat(current_owner());
  EXPECT_EQ(storage->trial_records(study)[0].trial.intermediate, (std::map<int, double>{{1, 0.25}}));
}

TEST_F(PostgresOutage, AServerGoneLongerThanTheWindowFailsWhileItIsGone) {
  Notices notices;
  auto storage = open_postgres_storage(database_->url(), {.retry = notices.retry(0.5)});
  const int study = storage->open_or_create_study({0, "s", Goal::minimize, "", 1, 0.0}).id;
  const TrialClaim claim = storage->claim_trial(study, current_owner(), 0, no_params())->claim(study);
  close();
  IntermediateWriter writer(*storage);
  writer.record(claim, 1, 0.25);
  const std::string message = thrown_message<StorageError>([&] { writer.flush(); });
  EXPECT_TRUE(contains(message, "still after trying again for 0.5s (while storing trial 0's value after epoch 1)"))
      << message;
  EXPECT_FALSE(contains(message, testing::ServerUrl(server_).password)) << message;
  reopen();
}

}  // namespace
}  // namespace mlptune::tune
