// A thin RAII layer over the SQLite C API: a connection, prepared statements, and transactions
// that wait for other processes and retry instead of failing with "database is locked".
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace mlptune::tune::sqlite {

class Connection;

// A prepared statement; binds are 1-based as in SQLite.
class Statement {
 public:
  Statement(Connection& connection, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, std::int64_t(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, const std::string& value);
  Statement& bind_null(int index);
  Statement& bind(int index, const std::optional<double>& value);
  Statement& bind_blob(int index, const std::string& bytes);

  bool step();  // true: a row is ready
  void run();   // steps to the end

  std::int64_t column_int(int index) const;
  double column_double(int index) const;
  std::optional<double> column_optional_double(int index) const;
  std::string column_text(int index) const;
  std::string column_blob(int index) const;
  bool column_is_null(int index) const;

 private:
  Connection& connection_;
  sqlite3_stmt* statement_ = nullptr;
  std::string sql_;
};

// Thrown inside a transaction when another process holds the lock; the transaction is retried.
struct BusyError {};

class Connection {
 public:
  enum class Access { read_write, read_only };  // read_write creates a missing file
  Connection(const std::filesystem::path& path, double busy_timeout_seconds, Access access);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void execute(const char* sql);
  std::int64_t last_insert_rowid() const;
  int changes() const;

  enum class Mode { read, write };
  // Runs `body` in a transaction (write: BEGIN IMMEDIATE, so two writers never deadlock),
  // retrying the whole transaction while the database is busy, up to the busy timeout.
  void transaction(Mode mode, const std::function<void()>& body);

  // Throws StorageError naming the file, the statement and SQLite's message; BusyError when busy.
  void check(int result_code, const std::string& what) const;

  sqlite3* handle() { return database_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void rollback_if_open();

  sqlite3* database_ = nullptr;
  std::filesystem::path path_;
  double busy_timeout_seconds_ = 60.0;
  bool in_transaction_ = false;
};

}  // namespace mlptune::tune::sqlite
