// A thin RAII layer over the SQLite C API: a connection, prepared statements, and transactions
// that report "database is locked" as a failure worth trying again.
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

// The fix for a path that is no study file.
inline constexpr const char* kStudyFileFix = "give the file `mlptune tune` wrote, its --storage (e.g. out/mnist.db)";

// Thrown by check() when another process holds the lock.
struct BusyError {};

// How long one statement waits inside SQLite for another process's lock before the transaction
// fails as busy and is tried again (StorageRetry) with the storage's lock released.
inline constexpr int kBusyWaitMilliseconds = 100;

class Connection {
 public:
  // read_write creates a missing file. read_only creates and changes no file, not even the -wal and
  // -shm files beside it: a database that no process has open for writing (no -wal file) is opened
  // immutable, which works on a read-only mount too; one that a process is writing now (its -wal
  // file is there, with commits the main file may not have yet) is read through that process's -wal
  // and -shm files, with SQLite's locks, so that it reads every commit and never a half-written one.
  enum class Access { read_write, read_only };
  Connection(const std::filesystem::path& path, Access access);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void execute(const char* sql);
  std::int64_t last_insert_rowid() const;
  int changes() const;

  enum class Mode { read, write };
  // Runs `body` in a transaction (write: BEGIN IMMEDIATE, so two writers never deadlock); rolled
  // back when it throws. Throws RetryableFailure (storage_retry.hpp) when another process holds
  // the lock, so that the caller tries the whole transaction again.
  void transaction(Mode mode, const std::function<void()>& body);

  // Throws StorageError naming the file, the statement and SQLite's message; BusyError when busy.
  void check(int result_code, const std::string& what) const;

  sqlite3* handle() { return database_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void rollback_if_open();

  sqlite3* database_ = nullptr;
  std::filesystem::path path_;
  bool in_transaction_ = false;
};

}  // namespace mlptune::tune::sqlite
