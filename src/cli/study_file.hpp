// Opening an existing study file for `mlptune report` and `mlptune export`.
#pragma once

#include <filesystem>
#include <memory>

#include "mlptune/error.hpp"
#include "mlptune/tune/storage.hpp"

namespace mlptune::cli {

// Unlike open_sqlite_storage, never creates the file: a mistyped path is an error.
inline std::unique_ptr<tune::Storage> open_existing_study(const std::filesystem::path& path) {
  if (!std::filesystem::is_regular_file(path))
    throw Error(path.string() + ": no such study file (it is the --storage of `mlptune tune`, e.g. out/mnist.db)");
  return tune::open_sqlite_storage(path);
}

}  // namespace mlptune::cli
