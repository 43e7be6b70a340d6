// Opening an existing study file for `mlptune report` and `mlptune export`.
#pragma once

#include <filesystem>
#include <memory>

#include "mlptune/error.hpp"
#include "mlptune/tune/storage.hpp"

namespace mlptune::cli {

// Read-only: never creates or changes a file; a path that is not a study file is an error that
// says what it is.
inline std::unique_ptr<tune::Storage> open_existing_study(const std::filesystem::path& path) {
  return tune::open_sqlite_storage(path, {.access = tune::StorageAccess::read_only});
}

}  // namespace mlptune::cli
