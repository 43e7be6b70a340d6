// The tests' PostgreSQL server (scripts/pg-test-server; CTest's postgres fixture starts one and
// names its URL file in MLPTUNE_TEST_POSTGRES_URL_FILE): its URL, a fresh empty database and a
// fresh role per test, each dropped when the test ends.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "mlptune/tune/storage.hpp"
#include "tune/storage_postgres_connection.hpp"

namespace mlptune::tune::testing {

inline constexpr const char* kNoPostgresServer =
    "no PostgreSQL test server (ctest starts one); to run these tests by hand: "
    "scripts/pg-test-server start build/postgres-test, then "
    "MLPTUNE_TEST_POSTGRES_URL_FILE=build/postgres-test/url";

// The server's URL, its superuser's database: postgresql://mlptune:<password>@127.0.0.1:<port>/mlptune.
// Nullopt when this run has none.
inline std::optional<std::string> postgres_server_url() {
  const char* file = std::getenv("MLPTUNE_TEST_POSTGRES_URL_FILE");
  if (file == nullptr || *file == '\0') return std::nullopt;
  std::ifstream in(file);
  std::string url;
  if (!std::getline(in, url) || url.empty()) return std::nullopt;
  return url;
}

// The parts of a URL as pg-test-server writes it, to write it with another user or database.
struct ServerUrl {
  std::string user, password, address, database;  // address: host:port

  explicit ServerUrl(const std::string& url) {
    const std::size_t scheme_end = url.find("://") + 3;
    const std::size_t at = url.find('@', scheme_end);
    const std::size_t colon = url.find(':', scheme_end);
    const std::size_t slash = url.find('/', at);
    user = url.substr(scheme_end, colon - scheme_end);
    password = url.substr(colon + 1, at - colon - 1);
    address = url.substr(at + 1, slash - at - 1);
    database = url.substr(slash + 1);
  }
  std::string text() const { return "postgresql://" + user + ":" + password + "@" + address + "/" + database; }
};

inline std::string url_with_database(const std::string& url, const std::string& database) {
  ServerUrl parts(url);
  parts.database = database;
  return parts.text();
}

// A name no other test uses: "<prefix>_<16 hex digits>".
inline std::string unique_name(const std::string& prefix) {
  static std::mt19937_64 random{std::random_device{}()};
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  char digits[17];
  std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(random()));
  return prefix + "_" + digits;
}

// A connection of the server's superuser, for what a test sets up on the server.
inline postgres::Connection superuser_connection(const std::string& url) {
  return postgres::Connection(url, 10.0, postgres::Connection::Access::read_write);
}

// A fresh empty database, dropped (with any connection still open to it) when this goes.
class TestDatabase {
 public:
  explicit TestDatabase(std::string server_url) : server_url_(std::move(server_url)), name_(unique_name("t")) {
    superuser_connection(server_url_).exec("CREATE DATABASE " + name_ + " TEMPLATE template0");
  }
  ~TestDatabase() {
    try {
      superuser_connection(server_url_).exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& error) {
      ADD_FAILURE() << "cannot drop the test database " << name_ << ": " << error.what();
    }
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& name() const { return name_; }
  std::string url() const { return url_with_database(server_url_, name_); }
  postgres::Connection superuser() const { return superuser_connection(url()); }  // connected to this database

 private:
  std::string server_url_;
  std::string name_;
};

// A role that logs in with a password and has no other rights, dropped when this goes.
class TestRole {
 public:
  explicit TestRole(std::string server_url)
      : server_url_(std::move(server_url)), name_(unique_name("r")), password_(unique_name("pw")) {
    superuser_connection(server_url_).exec("CREATE ROLE " + name_ + " LOGIN PASSWORD '" + password_ + "'");
  }
  ~TestRole() {
    try {
      superuser_connection(server_url_).exec("DROP ROLE IF EXISTS " + name_);
    } catch (const std::exception& error) {
      ADD_FAILURE() << "cannot drop the test role " << name_ << ": " << error.what();
    }
  }
  TestRole(const TestRole&) = delete;
  TestRole& operator=(const TestRole&) = delete;

  const std::string& name() const { return name_; }
  const std::string& password() const { return password_; }
  std::string url(const std::string& database) const {
    ServerUrl parts(server_url_);
    parts.user = name_;
    parts.password = password_;
    parts.database = database;
    return parts.text();
  }

 private:
  std::string server_url_;
  std::string name_;
  std::string password_;
};

// The database of the test now running that `key` names: created by the first call of the test
// and handed out again to every later one (a forked child's included: it inherits the table),
// dropped when the test ends. The contract suite keys it by the test's folder.
inline std::string database_of_test(const std::filesystem::path& key) {
  using Databases = std::map<std::filesystem::path, std::unique_ptr<TestDatabase>>;
  static Databases databases;
  static std::mutex mutex;
  struct DropAtTestEnd : ::testing::EmptyTestEventListener {
    void OnTestEnd(const ::testing::TestInfo&) override {
      std::lock_guard lock(mutex);
      databases.clear();
    }
  };
  static std::once_flag listening;
  std::call_once(listening, [] { ::testing::UnitTest::GetInstance()->listeners().Append(new DropAtTestEnd); });

  std::lock_guard lock(mutex);
  auto& database = databases[key];
  if (database == nullptr) database = std::make_unique<TestDatabase>(postgres_server_url().value());
  return database->url();
}

}  // namespace mlptune::tune::testing
