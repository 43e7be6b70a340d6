// A thin RAII layer over libpq: a connection, query results, and transactions that report a
// conflict with another worker's or a lost connection as a failure worth trying again.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "mlptune/tune/storage.hpp"
#include "tune/storage_retry.hpp"

namespace mlptune::tune::postgres {

// One query parameter: text as PostgreSQL reads it, bytes for a bytea (sent as they are, in binary
// format), or NULL.
class Param {
 public:
  Param(std::int64_t value);
  Param(int value) : Param(std::int64_t(value)) {}
  Param(double value);
  Param(const std::optional<double>& value);
  Param(std::string text) : data_(std::move(text)) {}
  Param(const char* text) : data_(std::string(text)) {}
  static Param bytes(std::string bytes);
  static Param null() { return Param(std::optional<double>()); }

  const std::optional<std::string>& data() const { return data_; }
  bool binary() const { return binary_; }

 private:
  std::optional<std::string> data_;
  bool binary_ = false;
};

// A query's rows, in text format; rows and columns are 0-based, as in libpq.
class Result {
 public:
  explicit Result(PGresult* result) : result_(result, &PQclear) {}

  int rows() const { return PQntuples(result_.get()); }
  int changed() const;  // rows an INSERT, UPDATE or DELETE changed
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string text(int row, int column) const;
  std::int64_t integer(int row, int column) const;
  double real(int row, int column) const;
  std::optional<double> optional_real(int row, int column) const;
  std::string bytes(int row, int column) const;  // of a bytea column
  const PGresult* raw() const { return result_.get(); }

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

// Thrown by Connection::transaction, whose caller runs it again (StorageRetry): the connection to
// the server was lost, or the transaction conflicted with another one (a serialization failure, a
// deadlock).
using tune::RetryableFailure;

class Connection {
 public:
  enum class Access { read_write, read_only };  // read_only: every transaction is READ ONLY
  // Connects at once; throws StorageError naming the URL (without its password) and the fix.
  Connection(const std::string& url, double connect_timeout_seconds, Access access);

  // One statement with parameters $1, $2, ... Outside transaction(), a lost connection or a
  // conflict is a StorageError as any other failure.
  Result exec(const std::string& sql, std::span<const Param> params);
  Result exec(const std::string& sql, std::initializer_list<Param> params = {}) {
    return exec(sql, std::span<const Param>(params.begin(), params.size()));
  }
  // Several statements without parameters (a schema); `what` they do names them in a message.
  void exec_script(const std::string& sql, const std::string& what);

  // Runs `body` between BEGIN and COMMIT (reconnecting first when the connection was lost), rolling
  // back when it throws. A conflict or a lost connection throws RetryableFailure: the caller runs
  // the whole body again, so `body` must set its results afresh each time. Nested: part of the
  // outer one.
  void transaction(const std::function<void()>& body);

  // "<url without its password>: <problem>; <fix>".
  StorageError error(const std::string& problem, const std::string& fix) const;
  const std::string& location() const { return location_; }
  std::string user() const { return PQuser(connection_.get()); }

 private:
  void configure_session();
  void reconnect_if_lost();
  void rollback_if_open();
  // `what`: the statement, or what it does.
  [[noreturn]] void throw_statement_error(const std::string& what, const PGresult* result) const;

  std::unique_ptr<PGconn, decltype(&PQfinish)> connection_{nullptr, &PQfinish};
  std::string location_;  // the URL without its password
  Access access_ = Access::read_write;
  bool in_transaction_ = false;  // inside transaction(): failures worth retrying throw RetryableFailure
};

}  // namespace mlptune::tune::postgres
