// Where the bundled datasets are looked for, apart from the process's environment and location, so
// that every case can be tested.
#pragma once

#include <filesystem>
#include <optional>

namespace mlptune::data {

// `from_environment` ($MLPTUNE_DATA_DIR) when set and not empty, else `near_executable` (a
// datasets/ folder found beside the program or above it), else `source_tree`'s datasets/ when it
// holds the bundled data. Throws DataError saying to set MLPTUNE_DATA_DIR when none does: a
// program or library installed elsewhere has no other way to find them.
std::filesystem::path choose_datasets_dir(const char* from_environment,
                                          const std::optional<std::filesystem::path>& near_executable,
                                          const std::filesystem::path& source_tree);

}  // namespace mlptune::data
