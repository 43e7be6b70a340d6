// A parsed numeric table (from CSV or NPY) and its conversion to a Dataset with a label column.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "mlptune/data.hpp"

namespace mlptune::data {

// Every cell of a file as double, before the label column is chosen.
struct NumericTable {
  std::string source;  // the file, as messages name it
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<double> values;             // rows x cols
  std::vector<std::string> column_names;  // from a header line, else empty
  std::vector<std::string> class_names;   // from a scikit-learn metadata header, else empty
  bool feature_values_are_bytes = false;  // NPY uint8: keep raw_bytes for the device
  // "<file>: line 5, column 3" for CSV, "<file>: row 4, column 3 (byte 208)" for NPY.
  std::function<std::string(std::size_t row, std::size_t col)> describe_cell;
};

// A data file's row and column counts, checked against kMaxRows and kMaxColumns as soon as they are
// known (from a header, or as lines are read) and before anything is allocated for them. Throws
// DataError "<path>: <where>: ..." naming the limit; `where` locates the counts ("bytes 4-15",
// "line 1"). Every loader calls it: IDX and NPY on their headers, CSV on its lines.
void check_table_size(const std::filesystem::path& path, const std::string& where, std::uint64_t rows,
                      std::uint64_t cols);

// Splits off the label (or target) column chosen by options.label_column and checks every value:
// finite, within float range, labels non-negative integers below the declared class count.
Dataset table_to_dataset(const NumericTable& table, const LoadOptions& options);

// The column options.label_column names (an index, negative from the end, or a header name; unset:
// the last). Throws DataError when there is no such column.
std::size_t label_column_of(const NumericTable& table, const LoadOptions& options);

// The rows' `feature_count` features, when a row holds just those or those and the label column
// (label_column_of; left out); no labels. DataError naming both widths otherwise.
Dataset table_features(const NumericTable& table, std::size_t feature_count, const LoadOptions& options);

// .npy: a 2-D array as a table (npy_loader.cpp).
NumericTable read_npy_table(const std::filesystem::path& path);

// column_scale 1 and column_offset 0 for every column: features are the file's values.
void set_identity_scaling(Dataset& dataset);

}  // namespace mlptune::data
