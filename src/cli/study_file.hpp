// Opening an existing study file for `mlptune report` and `mlptune export`.
#pragma once

#include <filesystem>
#include <memory>

#include "mlptune/error.hpp"
#include "mlptune/tune/storage.hpp"

namespace mlptune::cli {

// Read-only: never creates or changes a file or a database; a path that is not a study file is an
// error that says what it is. `location` is an SQLite file or a postgresql:// URL.
inline std::unique_ptr<tune::Storage> open_existing_study(const std::string& location) {
  return tune::open_storage(location, tune::StorageAccess::read_only);
}

}  // namespace mlptune::cli
