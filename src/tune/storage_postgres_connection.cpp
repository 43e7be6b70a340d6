// A thin RAII layer over libpq: a connection, query results, and transactions that report a
// conflict with another worker's or a lost connection as a failure worth trying again.
#include "tune/storage_postgres_connection.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <string_view>
#include <vector>

#include "common/number_text.hpp"

namespace mlptune::tune::postgres {
namespace {

// libpq's messages span lines ("...failed: Connection refused\n\tIs the server running...?\n"):
// one line, for a message that goes on after them, without the hints (tab-indented lines, which the
// fix replaces) and the severity ("FATAL:  ").
std::string one_line(std::string_view message) {
  std::string line;
  while (!message.empty()) {
    const std::size_t end = std::min(message.find('\n'), message.size());
    std::string_view part = message.substr(0, end);
    message.remove_prefix(std::min(end + 1, message.size()));
    if (part.empty() || part.front() == '\t') continue;
    if (!line.empty()) line += "; ";
    for (std::size_t at = part.find("FATAL:  "); at != std::string_view::npos; at = part.find("FATAL:  ")) {
      line += part.substr(0, at);
      part.remove_prefix(at + 8);
    }
    line += part;
  }
  return line;
}

constexpr const char* kUrlForm = "write the URL as postgresql://user:password@host:port/database";

// A statement in a message: quoted, on one line, its start only.
std::string excerpt(std::string_view sql) {
  std::string text;
  for (const char c : sql) {
    const bool space = c == ' ' || c == '\n' || c == '\t';
    if (!space || (!text.empty() && text.back() != ' ')) text += space ? ' ' : c;
  }
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return "'" + text + "'";
}

struct Advice {
  std::string_view symptom;  // in libpq's message
  std::string_view fix;
};

// What to do about a failed connection, by what libpq said (the first match; the last is the rest).
constexpr std::array kConnectAdvice = {
    Advice{"password authentication failed", "check the user name and password in the URL"},
    Advice{"no password supplied", "give the password in the URL (postgresql://user:password@host:port/database)"},
    Advice{"permission denied for database", "grant the user CONNECT on the database (GRANT CONNECT ON DATABASE)"},
    Advice{"too many", "run fewer workers at once, or raise the server's max_connections"},
    Advice{"role \"", "check the user name in the URL, or create that role on the server"},
    Advice{"database \"", "create the database (createdb, or CREATE DATABASE) or fix its name in the URL"},
    Advice{"pg_hba.conf", "allow this host and user in the server's pg_hba.conf, or connect as another user"},
    Advice{"timeout expired",
           "check the host and port in the URL, and that no firewall stops this host from reaching the server"},
    Advice{"could not translate host name", "check the host name in the URL"},
    Advice{"for connection option", kUrlForm},
    Advice{"invalid URI", kUrlForm},
    Advice{"invalid percent-encoded token", kUrlForm},
    Advice{"", "check that the server runs and that the host and port in the URL are right"},
};

std::string_view connect_fix(std::string_view message) {
  for (const Advice& advice : kConnectAdvice)
    if (message.find(advice.symptom) != std::string_view::npos) return advice.fix;
  return kConnectAdvice.back().fix;
}

// SQLSTATEs after which the same transaction may succeed when run again.
bool is_conflict(std::string_view sqlstate) {
  return sqlstate == "40001" || sqlstate == "40P01";  // serialization_failure, deadlock_detected
}

constexpr const char* kReachTheServer = "check that the server runs and that this host reaches it";

}  // namespace

Param::Param(std::int64_t value) : data_(std::to_string(value)) {}

Param::Param(double value) : data_(shortest_text(value)) {}  // "inf", "nan": PostgreSQL reads them

Param::Param(const std::optional<double>& value) {
  if (value) data_ = shortest_text(*value);
}

Param Param::bytes(std::string bytes) {
  Param param(std::move(bytes));
  param.binary_ = true;
  return param;
}

int Result::changed() const {
  const char* count = PQcmdTuples(result_.get());
  return *count ? std::atoi(count) : 0;
}

std::string Result::text(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column), std::size_t(PQgetlength(result_.get(), row, column)));
}

std::int64_t Result::integer(int row, int column) const {
  const char* begin = PQgetvalue(result_.get(), row, column);
  std::int64_t value = 0;
  std::from_chars(begin, begin + PQgetlength(result_.get(), row, column), value);
  return value;
}

// PostgreSQL writes doubles in their shortest exact form (extra_float_digits, configure_session),
// and "Infinity", "-Infinity", "NaN", which from_chars reads as well.
double Result::real(int row, int column) const {
  const char* begin = PQgetvalue(result_.get(), row, column);
  double value = 0.0;
  std::from_chars(begin, begin + PQgetlength(result_.get(), row, column), value);
  return value;
}

std::optional<double> Result::optional_real(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return real(row, column);
}

// A bytea in text format is "\x" and hex digits (or the older escape format); libpq decodes both.
std::string Result::bytes(int row, int column) const {
  std::size_t length = 0;
  unsigned char* decoded =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row, column)), &length);
  if (decoded == nullptr) throw std::bad_alloc();
  std::string bytes(reinterpret_cast<const char*>(decoded), length);
  PQfreemem(decoded);
  return bytes;
}

Connection::Connection(const std::string& url, double connect_timeout_seconds, Access access)
    : location_(redacted_url(url)), access_(access) {
  // Ours first: what the URL itself says (?connect_timeout=30) overrides them.
  const std::string timeout = std::to_string(std::max(1L, std::lround(std::ceil(connect_timeout_seconds))));
  // TCP keepalives and a user timeout: a server that went silent (a cut link, a dead host) breaks
  // the connection within about 30 s instead of the kernel's minutes, and the transaction is retried
  // on a new one.
  const std::array<const char*, 9> keywords = {"connect_timeout",
                                               "fallback_application_name",
                                               "client_encoding",
                                               "keepalives_idle",
                                               "keepalives_interval",
                                               "keepalives_count",
                                               "tcp_user_timeout",
                                               "dbname",
                                               nullptr};
  const std::array<const char*, 9> values = {timeout.c_str(), "mlptune",   "UTF8", "10", "5", "3",
                                             "30000",         url.c_str(), nullptr};
  connection_.reset(PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1));
  if (connection_ == nullptr) throw std::bad_alloc();
  if (PQstatus(connection_.get()) != CONNECTION_OK) {
    const std::string message = one_line(PQerrorMessage(connection_.get()));
    throw error("cannot connect to the PostgreSQL server (" + message + ")", std::string(connect_fix(message)));
  }
  // "NOTICE: relation ... already exists, skipping" and the like are not the user's business.
  PQsetNoticeProcessor(
      connection_.get(), [](void*, const char*) {}, nullptr);
  configure_session();
}

StorageError Connection::error(const std::string& problem, const std::string& fix) const {
  return StorageError(location_ + ": " + problem + "; " + fix);
}

// Doubles as their shortest exact text (the default since PostgreSQL 12; a server may set less).
void Connection::configure_session() {
  exec("SET extra_float_digits = 3");
  // A worker cut off in the middle of a transaction would hold its row locks until its connection
  // died, stalling every worker that writes those rows; the server ends such a session instead.
  // mlptune's transactions never wait that long between statements.
  exec("SET idle_in_transaction_session_timeout = '15s'");
}

Result Connection::exec(const std::string& sql, std::span<const Param> params) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const Param& param : params) {
    values.push_back(param.data() ? param.data()->data() : nullptr);
    lengths.push_back(param.data() ? int(param.data()->size()) : 0);
    formats.push_back(param.binary() ? 1 : 0);
  }
  Result result(PQexecParams(connection_.get(), sql.c_str(), int(values.size()), nullptr, values.data(), lengths.data(),
                             formats.data(), /*resultFormat=text*/ 0));
  const ExecStatusType status = PQresultStatus(result.raw());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw_statement_error(excerpt(sql), result.raw());
  return result;
}

void Connection::exec_script(const std::string& sql, const std::string& what) {
  Result result(PQexec(connection_.get(), sql.c_str()));
  const ExecStatusType status = PQresultStatus(result.raw());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw_statement_error(what, result.raw());
}

void Connection::throw_statement_error(const std::string& what, const PGresult* result) const {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state ? state : "";
  const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const std::string message = one_line(primary ? primary : PQerrorMessage(connection_.get()));
  if (PQstatus(connection_.get()) != CONNECTION_OK) {
    RetryableFailure lost{"lost the connection to the PostgreSQL server (" + message + ")", kReachTheServer};
    if (in_transaction_) throw lost;
    throw error(lost.problem, lost.fix);
  }
  if (in_transaction_ && is_conflict(sqlstate))
    throw RetryableFailure{"the transaction kept conflicting with other workers' (" + message + ")",
                           "check for a hung mlptune worker holding locks (pg_stat_activity on the server)"};

  std::string fix = "check the server's log";
  if (sqlstate == "42501")  // insufficient_privilege
    fix = "grant the user " + user() + " what it lacks (" +
          (message.find("for schema") != std::string::npos
               ? "GRANT CREATE ON SCHEMA public TO " + user() + ", to create mlptune's tables"
               : "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + user()) +
          "), or give mlptune a database that user owns";
  else if (sqlstate == "25006")  // read_only_sql_transaction
    fix = access_ == Access::read_only ? "open the storage for writing"
                                       : "connect to the primary server, not a read-only standby";
  else if (sqlstate == "53100")  // disk_full
    fix = "free space on the database server, then run the same command again to resume the study";
  else if (sqlstate == "42P01" || sqlstate == "42703")  // undefined_table, undefined_column
    fix = "the database's tables are not mlptune's; give mlptune a database of its own";
  throw error("the PostgreSQL server refused " + what + " (" + message + ")", fix);
}

void Connection::reconnect_if_lost() {
  if (PQstatus(connection_.get()) == CONNECTION_OK) return;
  PQreset(connection_.get());
  if (PQstatus(connection_.get()) != CONNECTION_OK)
    throw RetryableFailure{"lost the connection to the PostgreSQL server and cannot reconnect (" +
                               one_line(PQerrorMessage(connection_.get())) + ")",
                           kReachTheServer};
  configure_session();
}

void Connection::rollback_if_open() {
  if (in_transaction_ && PQstatus(connection_.get()) == CONNECTION_OK) PQclear(PQexec(connection_.get(), "ROLLBACK"));
  in_transaction_ = false;
}

// A COMMIT whose connection is lost may have been carried out or not; running the body again then
// does it twice, which every body here survives (a second claim leaves one trial running for a
// while, until its owner is seen to be gone).
void Connection::transaction(const std::function<void()>& body) {
  if (in_transaction_) return body();  // nested: part of the outer transaction
  try {
    in_transaction_ = true;  // from here, a lost connection is worth trying again (reconnecting, BEGIN)
    reconnect_if_lost();
    exec(access_ == Access::read_only ? "BEGIN READ ONLY" : "BEGIN");
    body();
    exec("COMMIT");
    in_transaction_ = false;
  } catch (...) {
    rollback_if_open();
    throw;
  }
}

}  // namespace mlptune::tune::postgres
