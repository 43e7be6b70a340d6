// A thin RAII layer over the SQLite C API: a connection, prepared statements, and transactions
// that report "database is locked" as a failure worth trying again.
#include "tune/storage_sqlite_connection.hpp"

#include "common/shell_quote.hpp"
#include "mlptune/tune/storage.hpp"
#include "tune/storage_retry.hpp"

namespace mlptune::tune::sqlite {
namespace {

bool is_busy(int result_code) {
  const int primary = result_code & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

// A file: URI of `path` (RFC 8089: '%', '?' and '#' escaped) that opens it read-only; immutable when
// no process has it open for writing (see Connection::Access).
std::string read_only_uri(const std::filesystem::path& path) {
  std::string uri = "file:";
  for (const char c : std::filesystem::absolute(path).lexically_normal().string()) {
    if (c == '%' || c == '?' || c == '#') {
      constexpr char kHex[] = "0123456789abcdef";
      uri += '%';
      uri += kHex[(c >> 4) & 0xf];
      uri += kHex[c & 0xf];
    } else {
      uri += c;
    }
  }
  std::error_code error;
  const bool being_written = std::filesystem::exists(path.string() + "-wal", error);
  return uri + (being_written ? "?mode=ro" : "?mode=ro&immutable=1");
}

}  // namespace

Statement::Statement(Connection& connection, const char* sql) : connection_(connection), sql_(sql) {
  connection_.check(sqlite3_prepare_v2(connection_.handle(), sql, -1, &statement_, nullptr), sql_);
}

Statement::~Statement() {
  sqlite3_finalize(statement_);
}

Statement& Statement::bind(int index, std::int64_t value) {
  connection_.check(sqlite3_bind_int64(statement_, index, value), sql_);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  connection_.check(sqlite3_bind_double(statement_, index, value), sql_);
  return *this;
}

Statement& Statement::bind(int index, const std::string& value) {
  connection_.check(sqlite3_bind_text(statement_, index, value.data(), int(value.size()), SQLITE_TRANSIENT), sql_);
  return *this;
}

Statement& Statement::bind_null(int index) {
  connection_.check(sqlite3_bind_null(statement_, index), sql_);
  return *this;
}

Statement& Statement::bind(int index, const std::optional<double>& value) {
  return value ? bind(index, *value) : bind_null(index);
}

Statement& Statement::bind_blob(int index, const std::string& bytes) {
  connection_.check(sqlite3_bind_blob64(statement_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT), sql_);
  return *this;
}

bool Statement::step() {
  const int result = sqlite3_step(statement_);
  if (result == SQLITE_ROW) return true;
  if (result == SQLITE_DONE) return false;
  connection_.check(result, sql_);
  return false;
}

void Statement::run() {
  while (step()) {
  }
}

std::int64_t Statement::column_int(int index) const {
  return sqlite3_column_int64(statement_, index);
}

double Statement::column_double(int index) const {
  return sqlite3_column_double(statement_, index);
}

std::optional<double> Statement::column_optional_double(int index) const {
  if (sqlite3_column_type(statement_, index) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_double(statement_, index);
}

std::string Statement::column_text(int index) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement_, index));
  return text ? std::string(text, std::size_t(sqlite3_column_bytes(statement_, index))) : std::string();
}

std::string Statement::column_blob(int index) const {
  const auto* bytes = static_cast<const char*>(sqlite3_column_blob(statement_, index));
  return bytes ? std::string(bytes, std::size_t(sqlite3_column_bytes(statement_, index))) : std::string();
}

bool Statement::column_is_null(int index) const {
  return sqlite3_column_type(statement_, index) == SQLITE_NULL;
}

Connection::Connection(const std::filesystem::path& path, Access access) : path_(path) {
  const int flags = (access == Access::read_only ? SQLITE_OPEN_READONLY | SQLITE_OPEN_URI
                                                 : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_FULLMUTEX;
  const std::string name = access == Access::read_only ? read_only_uri(path) : path.string();
  const int result = sqlite3_open_v2(name.c_str(), &database_, flags, nullptr);
  if (result != SQLITE_OK) {
    const std::string message = database_ ? sqlite3_errmsg(database_) : sqlite3_errstr(result);
    sqlite3_close(database_);
    throw StorageError(path.string() + ": cannot open the study database (" + message +
                       "); check that the folder exists and is writable");
  }
  sqlite3_busy_timeout(database_, kBusyWaitMilliseconds);
}

Connection::~Connection() {
  sqlite3_close(database_);
}

void Connection::check(int result_code, const std::string& what) const {
  if (result_code == SQLITE_OK || result_code == SQLITE_ROW || result_code == SQLITE_DONE) return;
  if (is_busy(result_code)) throw BusyError{};
  if ((result_code & 0xff) == SQLITE_NOTADB)
    throw StorageError(path_.string() + ": is not a study database (not an SQLite file); " + kStudyFileFix);
  if ((result_code & 0xff) == SQLITE_READONLY)
    throw StorageError(path_.string() +
                       ": the study database is read-only (its permissions, its folder's, or a read-only mount); "
                       "make it writable (chmod u+w on the file and its folder), or copy the study to a writable "
                       "place with `mlptune copy " +
                       shell_quoted(path_.string()) +
                       " NEW.db` and run on NEW.db; `mlptune report` and `export` read it as it is");
  if ((result_code & 0xff) == SQLITE_FULL)
    throw StorageError(path_.string() +
                       ": the disk is full; free some space, then run the same command again to "
                       "resume the study");
  throw StorageError(path_.string() + ": database error in '" + what + "': " + sqlite3_errmsg(database_) +
                     "; check the file is an mlptune study database and the disk is not full");
}

void Connection::execute(const char* sql) {
  char* error = nullptr;
  const int result = sqlite3_exec(database_, sql, nullptr, nullptr, &error);
  sqlite3_free(error);
  check(result, sql);
}

std::int64_t Connection::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(database_);
}

int Connection::changes() const {
  return sqlite3_changes(database_);
}

void Connection::rollback_if_open() {
  if (in_transaction_) sqlite3_exec(database_, "ROLLBACK", nullptr, nullptr, nullptr);
  in_transaction_ = false;
}

void Connection::transaction(Mode mode, const std::function<void()>& body) {
  if (in_transaction_) return body();  // nested: part of the outer transaction
  try {
    execute(mode == Mode::write ? "BEGIN IMMEDIATE" : "BEGIN");
    in_transaction_ = true;
    body();
    execute("COMMIT");
    in_transaction_ = false;
  } catch (const BusyError&) {
    rollback_if_open();
    throw RetryableFailure{"the database is locked by another process",
                           "end the program that holds it (`fuser " + shell_quoted(path_.string()) +
                               "` names it: a hung mlptune process, an open sqlite3 shell)"};
  } catch (...) {
    rollback_if_open();
    throw;
  }
}

}  // namespace mlptune::tune::sqlite
