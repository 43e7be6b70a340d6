// Reading a delimited text file (CSV, or whitespace-separated; gzip or plain) into a NumericTable.
#pragma once

#include <filesystem>
#include <optional>

#include "data/numeric_table.hpp"

namespace mlptune::data {

// Detects or obeys a header line: column names, or scikit-learn's metadata line
// "n_samples,n_features,class names...". `delimiter` ' ' means any run of spaces or tabs.
// Throws DataError naming the file, line and column of a ragged row or a cell that is not a number.
NumericTable read_text_table(const std::filesystem::path& path, char delimiter, std::optional<bool> has_header);

// "iris" for ".../iris.csv", "digits" for ".../digits.csv.gz".
std::string dataset_name_from_path(const std::filesystem::path& path);

}  // namespace mlptune::data
