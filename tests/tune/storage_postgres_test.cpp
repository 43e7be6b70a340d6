// The PostgreSQL storage on bad input (the contract suite, storage_test.cpp, covers the rest): an
// unreachable server, a wrong password, a role that may not create tables, a mistyped scheme, a
// newer schema, and what read-only access refuses; each message names the URL without its
// password and the fix. Then reconnecting, schema creation by workers starting together, and
// the URL forms --storage takes.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <limits>
#include <thread>
#include <vector>

#include "mlptune/tune/storage.hpp"
#include "temp_folder.hpp"
#include "thrown_message.hpp"
#include "tune/postgres_test_support.hpp"
#include "tune/storage_postgres_connection.hpp"

namespace mlptune::tune {
namespace {

using ::mlptune::testing::thrown_message;
using testing::ServerUrl;
using testing::TestDatabase;
using testing::TestRole;

constexpr const char* kPassword = "s3cret-Pa55";

// A port of 127.0.0.1 that nothing listens on: one the kernel just handed out and took back.
int closed_loopback_port() {
  const int socket = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  EXPECT_EQ(::bind(socket, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  EXPECT_EQ(::getsockname(socket, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ::close(socket);
  return ntohs(address.sin_port);
}

std::string storage_error_of(const std::string& url, StorageAccess access = StorageAccess::read_write) {
  return thrown_message<StorageError>([&] { open_postgres_storage(url, {.access = access}); });
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

StudyInfo study_named(const std::string& name) {
  return {0, name, Goal::minimize, "method: random\n", 7, 0.0};
}

TEST(PostgresStorageMessages, AnUnreachableServerIsNamedWithoutThePassword) {
  const std::string address = "127.0.0.1:" + std::to_string(closed_loopback_port());
  const std::string message =
      storage_error_of("postgresql://mlptune:" + std::string(kPassword) + "@" + address + "/db");
  EXPECT_TRUE(contains(message, "postgresql://mlptune:***@" + address + "/db: cannot connect")) << message;
  EXPECT_TRUE(contains(message, "check that the server runs and that the host and port in the URL are right"))
      << message;
  EXPECT_FALSE(contains(message, kPassword)) << message;
}

TEST(PostgresStorageMessages, AMistypedSchemeGetsTheNearestAcceptedOne) {
  const std::string url = "postgressql://mlptune:" + std::string(kPassword) + "@127.0.0.1:5432/db";
  const std::string message = thrown_message<StorageError>([&] { open_storage(url); });
  EXPECT_TRUE(contains(message, "postgressql://mlptune:***@127.0.0.1:5432/db: ")) << message;
  EXPECT_TRUE(contains(message, "did you mean postgresql://?")) << message;
  EXPECT_TRUE(contains(message, "give a postgresql:// (or postgres://) URL")) << message;
  EXPECT_FALSE(contains(message, kPassword)) << message;

  const std::string other = thrown_message<StorageError>([] { open_storage("mysql://host/db"); });
  EXPECT_TRUE(contains(other, "mysql://")) << other;
  EXPECT_FALSE(contains(other, "did you mean")) << other;
  EXPECT_TRUE(
      contains(thrown_message<StorageError>([] { open_storage("sqlite3:///study.db"); }), "did you mean sqlite:///?"));
  EXPECT_TRUE(
      contains(thrown_message<StorageError>([] { open_storage("sqlite://study.db"); }), "sqlite:///relative/path.db"));
}

TEST(PostgresStorageUrls, APasswordIsHiddenWhereverTheUrlHasOne) {
  EXPECT_EQ(redacted_url("postgresql://user:pw@host:5432/db"), "postgresql://user:***@host:5432/db");
  EXPECT_EQ(redacted_url("postgres://user:p%40ss@host/db?sslmode=require"),
            "postgres://user:***@host/db?sslmode=require");
  EXPECT_EQ(redacted_url("postgresql://host/db?user=u&password=pw&sslmode=require"),
            "postgresql://host/db?user=u&password=***&sslmode=require");
  EXPECT_EQ(redacted_url("postgresql://user@host:5432/db"), "postgresql://user@host:5432/db");
  EXPECT_EQ(redacted_url("postgresql://host/db"), "postgresql://host/db");
  EXPECT_EQ(redacted_url("out/mnist.db"), "out/mnist.db");
}

TEST(PostgresStorageUrls, OnlyPostgresqlSchemesAreDatabaseUrls) {
  EXPECT_TRUE(is_database_url("postgresql://user:pw@host/db"));
  EXPECT_TRUE(is_database_url("postgres://host/db"));
  EXPECT_FALSE(is_database_url("sqlite:///study.db"));
  EXPECT_FALSE(is_database_url("out/postgresql://study.db"));
  EXPECT_FALSE(is_database_url("out/mnist.db"));
}

TEST(StorageLocations, OptunaStyleSqliteUrlsAndPlainPathsOpenAnSqliteFile) {
  const ::mlptune::testing::TempFolder folder;
  const std::filesystem::path absolute = folder.file("absolute.db");
  EXPECT_FALSE(is_database_url("sqlite:///" + absolute.string()));
  open_storage("sqlite:///" + absolute.string());  // sqlite:////tmp/...: an absolute path
  EXPECT_TRUE(std::filesystem::exists(absolute));
  const auto previous = std::filesystem::current_path();
  std::filesystem::current_path(folder.file(""));
  open_storage("sqlite:///relative.db");  // relative to the working folder
  std::filesystem::current_path(previous);
  EXPECT_TRUE(std::filesystem::exists(folder.file("relative.db")));
  open_storage(folder.file("plain.db").string());
  EXPECT_TRUE(std::filesystem::exists(folder.file("plain.db")));
  EXPECT_THROW(open_storage("sqlite:///" + folder.file("missing.db").string(), StorageAccess::read_only), StorageError);
  EXPECT_FALSE(std::filesystem::exists(folder.file("missing.db")));
}

// Each test has a database of its own on the test server (and skips without a server).
class PostgresStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto url = testing::postgres_server_url();
    if (!url) GTEST_SKIP() << testing::kNoPostgresServer;
    server_url_ = *url;
    database_.emplace(server_url_);
  }

  std::string server_url_;
  std::optional<TestDatabase> database_;
};

TEST_F(PostgresStorageTest, AWrongPasswordIsNamedWithoutIt) {
  ServerUrl url(database_->url());
  url.password = kPassword;
  const std::string message = storage_error_of(url.text());
  EXPECT_TRUE(contains(message, "postgresql://mlptune:***@" + url.address + "/" + database_->name())) << message;
  EXPECT_TRUE(contains(message, "password authentication failed")) << message;
  EXPECT_TRUE(contains(message, "check the user name and password in the URL")) << message;
  EXPECT_FALSE(contains(message, kPassword)) << message;
}

TEST_F(PostgresStorageTest, ADatabaseThatDoesNotExistIsNamed) {
  const std::string message = storage_error_of(testing::url_with_database(server_url_, "no_such_database"));
  EXPECT_TRUE(contains(message, "database \"no_such_database\" does not exist")) << message;
  EXPECT_TRUE(contains(message, "create the database")) << message;
}

TEST_F(PostgresStorageTest, ARoleThatMayNotCreateTablesIsToldWhatToGrant) {
  database_->superuser().exec("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
  const TestRole role(server_url_);
  const std::string message = storage_error_of(role.url(database_->name()));
  EXPECT_TRUE(contains(message, "postgresql://" + role.name() + ":***@")) << message;
  EXPECT_TRUE(contains(message, "permission denied for schema public")) << message;
  EXPECT_TRUE(contains(message, "GRANT CREATE ON SCHEMA public TO " + role.name())) << message;
  EXPECT_FALSE(contains(message, role.password())) << message;
}

TEST_F(PostgresStorageTest, ARoleThatMayOnlyReadAndWriteWorksInADatabaseWithTheTables) {
  open_postgres_storage(database_->url())->open_or_create_study(study_named("shared"));
  auto superuser = database_->superuser();
  superuser.exec("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
  const TestRole role(server_url_);
  superuser.exec("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + role.name());
  auto storage = open_postgres_storage(role.url(database_->name()));
  EXPECT_TRUE(storage->find_study("shared").has_value());
  superuser.exec("DROP OWNED BY " + role.name());  // its grants, so that the role can go
}

TEST_F(PostgresStorageTest, ANewerSchemaIsRefused) {
  open_postgres_storage(database_->url());
  database_->superuser().exec("UPDATE schema_version SET version = 99");
  for (const StorageAccess access : {StorageAccess::read_write, StorageAccess::read_only}) {
    const std::string message = storage_error_of(database_->url(), access);
    EXPECT_TRUE(contains(message, "postgresql://mlptune:***@")) << message;
    EXPECT_TRUE(contains(message, ": the study database has schema version 99, newer than this mlptune knows ("))
        << message;
    EXPECT_TRUE(contains(message, "; use the mlptune version that wrote it, or a newer one")) << message;
  }
}

TEST_F(PostgresStorageTest, ReadOnlyAccessRefusesADatabaseWithoutTheTablesAndCreatesNone) {
  const std::string message = storage_error_of(database_->url(), StorageAccess::read_only);
  EXPECT_TRUE(contains(message, ": the database has no mlptune study tables; ")) << message;
  EXPECT_EQ(database_->superuser().exec("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").integer(0, 0), 0);
}

TEST_F(PostgresStorageTest, ReadOnlyAccessReadsButChangesNothing) {
  open_postgres_storage(database_->url())->open_or_create_study(study_named("kept"));
  auto storage = open_postgres_storage(database_->url(), {.access = StorageAccess::read_only});
  EXPECT_EQ(storage->find_study("kept")->seed, 7u);
  const std::string message = thrown_message<StorageError>([&] { storage->open_or_create_study(study_named("new")); });
  EXPECT_TRUE(contains(message, "read-only")) << message;
  EXPECT_FALSE(storage->find_study("new").has_value());
}

TEST_F(PostgresStorageTest, TablesOfAnotherProgramAreLeftAlone) {
  database_->superuser().exec("CREATE TABLE studies (study_id INTEGER, study_name TEXT)");  // Optuna's, say
  const std::string message = storage_error_of(database_->url());
  EXPECT_TRUE(contains(message, "tables named studies or trials that are not mlptune's")) << message;
  EXPECT_TRUE(contains(message, "give mlptune a database of its own")) << message;
}

TEST_F(PostgresStorageTest, WorkersStartingTogetherCreateTheSchemaOnce) {
  std::vector<int> ids(6, -1);
  std::vector<std::thread> workers;
  for (std::size_t worker = 0; worker < ids.size(); ++worker)
    workers.emplace_back([&, worker] {
      try {
        ids[worker] = open_postgres_storage(database_->url())->open_or_create_study(study_named("together")).id;
      } catch (const std::exception& error) {
        ADD_FAILURE() << error.what();
      }
    });
  for (auto& worker : workers) worker.join();
  for (const int id : ids) EXPECT_EQ(id, ids.front());
}

TEST_F(PostgresStorageTest, AConnectionTheServerDropsIsMadeAgain) {
  auto storage = open_postgres_storage(database_->url());
  const int study = storage->open_or_create_study(study_named("study")).id;
  database_->superuser().exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      {database_->name()});
  EXPECT_EQ(storage->find_study("study")->id, study);
  EXPECT_EQ(storage->studies().size(), 1u);
}

TEST_F(PostgresStorageTest, AServerGoneForGoodFailsAfterTheRetryWindow) {
  auto storage = open_postgres_storage(database_->url(), {.retry = {.window_seconds = 1.0}});
  testing::superuser_connection(server_url_).exec("DROP DATABASE " + database_->name() + " WITH (FORCE)");
  const std::string message = thrown_message<StorageError>([&] { storage->studies(); });
  EXPECT_TRUE(contains(message, "postgresql://mlptune:***@")) << message;
  EXPECT_TRUE(contains(message, "cannot reconnect")) << message;
  EXPECT_TRUE(contains(message, "still after trying again for 1.0s (while listing the studies)")) << message;
}

TEST_F(PostgresStorageTest, BytesSeedsAndDoublesComeBackAsTheyWere) {
  auto storage = open_postgres_storage(database_->url());
  StudyInfo wanted = study_named("bytes");
  wanted.seed = 0xFFFFFFFFFFFFFFF0ull;
  const StudyInfo study = storage->open_or_create_study(wanted);
  EXPECT_EQ(storage->find_study("bytes")->seed, wanted.seed);
  std::string checkpoint;
  for (int byte = 0; byte < 70000; ++byte) checkpoint += char((byte * 131) % 256);  // NULs and high bytes
  const auto claimed = storage->claim_trial(study.id, current_owner(), 0, [](auto, int) { return SampledTrial{}; });
  ASSERT_TRUE(claimed.has_value());
  ASSERT_TRUE(storage->checkpoint_trial(claimed->claim(study.id), 2, checkpoint));
  EXPECT_EQ(storage->load_checkpoint(study.id, claimed->trial.number), checkpoint);

  // Doubles as text both ways: every bit of them, and the values of a diverged run.
  const std::vector<double> values = {
      0.1 + 0.2,   1e-320, -0.0, std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
      std::nan("")};
  for (std::size_t epoch = 0; epoch < values.size(); ++epoch)
    ASSERT_TRUE(storage->record_intermediate(claimed->claim(study.id), int(epoch), values[epoch]));
  const auto intermediate = storage->trial_record(study.id, claimed->trial.number)->trial.intermediate;
  for (std::size_t epoch = 0; epoch + 1 < values.size(); ++epoch)
    EXPECT_EQ(std::bit_cast<std::uint64_t>(intermediate.at(int(epoch))), std::bit_cast<std::uint64_t>(values[epoch]))
        << epoch;
  EXPECT_TRUE(std::isnan(intermediate.at(int(values.size()) - 1)));
}

}  // namespace
}  // namespace mlptune::tune
