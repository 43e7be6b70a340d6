// TEMPORARY local dispatch (replaced by the PostgreSQL branch's version).
#include "mlptune/tune/storage.hpp"

namespace mlptune::tune {

bool is_database_url(const std::string& location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::string redacted_url(const std::string& url) {
  return url;
}

std::unique_ptr<Storage> open_storage(const std::string& location, StorageAccess access) {
  if (is_database_url(location)) return open_postgres_storage(location, {.access = access});
  return open_sqlite_storage(location, {.access = access});
}

std::unique_ptr<Storage> open_postgres_storage(const std::string& url, const PostgresOptions&) {
  throw StorageError(url + ": PostgreSQL storage is not built yet");
}

}  // namespace mlptune::tune
