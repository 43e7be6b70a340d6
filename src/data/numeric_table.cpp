// Turning a numeric table into a Dataset: choosing the label column and validating every value.
#include "data/numeric_table.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include "common/number_text.hpp"
#include "common/size_limits.hpp"
#include "common/text_list.hpp"
#include "data/input_file.hpp"
#include "mlptune/error.hpp"

namespace mlptune::data {

namespace {

std::optional<long long> parse_integer(const std::string& text) {
  long long value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || stop != end) {
    return std::nullopt;
  }
  return value;
}

std::size_t resolve_index(const NumericTable& table, long long index) {
  const auto cols = static_cast<long long>(table.cols);
  if (index < -cols || index >= cols) {
    throw DataError(table.source + ": label column " + std::to_string(index) + " is out of range for " +
                    std::to_string(cols) + " columns (use 0.." + std::to_string(cols - 1) + " or -" +
                    std::to_string(cols) + "..-1)");
  }
  return static_cast<std::size_t>(index < 0 ? index + cols : index);
}

std::size_t resolve_name(const NumericTable& table, const std::string& name) {
  if (table.column_names.empty()) {
    throw DataError(table.source + ": has no header with column names, so the label column '" + name +
                    "' cannot be found; give its index instead (0-based, negative from the end)");
  }
  for (std::size_t col = 0; col < table.column_names.size(); ++col) {
    if (table.column_names[col] == name) {
      return col;
    }
  }
  throw DataError(table.source + ": no column named '" + name + "' (columns: " + join(table.column_names, ", ") + ")");
}

}  // namespace

void check_table_size(const std::filesystem::path& path, const std::string& where, std::uint64_t rows,
                      std::uint64_t cols) {
  if (cols > kMaxColumns)
    throw_data_error(path, where + ": " + std::to_string(cols) + " columns; at most " + std::to_string(kMaxColumns) +
                               " are supported (a model takes one input per feature column, and its parameters "
                               "are limited to " +
                               std::to_string(kMaxParameters) + ")");
  if (rows > kMaxRows)
    throw_data_error(path, where + ": " + std::to_string(rows) + " rows; at most " + std::to_string(kMaxRows) +
                               " are supported (rows are numbered with 32-bit indices): split the file");
}

std::size_t label_column_of(const NumericTable& table, const LoadOptions& options) {
  if (!options.label_column) {
    return table.cols - 1;
  }
  if (const auto index = parse_integer(*options.label_column)) {
    return resolve_index(table, *index);
  }
  return resolve_name(table, *options.label_column);
}

namespace {

// The float32 the device will see; a value finite in double may still overflow float.
float checked_float(const NumericTable& table, std::size_t row, std::size_t col) {
  const double value = table.values[row * table.cols + col];
  if (!std::isfinite(value)) {
    throw DataError(table.describe_cell(row, col) + ": " + (std::isnan(value) ? "NaN" : "Inf") +
                    " is not allowed; remove or impute the value");
  }
  if (std::fabs(value) > double(std::numeric_limits<float>::max())) {
    throw DataError(table.describe_cell(row, col) + ": " + shortest_text(value) + " is outside the float32 range");
  }
  return static_cast<float>(value);
}

std::int32_t checked_label(const NumericTable& table, std::size_t row, std::size_t col) {
  const double value = table.values[row * table.cols + col];
  checked_float(table, row, col);
  if (value < 0 || value != std::floor(value)) {
    throw DataError(table.describe_cell(row, col) + ": label " + shortest_text(value) +
                    " is not a non-negative integer (for real-valued targets load the file as regression)");
  }
  // Labels index the output layer, one unit per class: a label in the millions is a regression
  // target or a mistaken column, not a class.
  constexpr std::int32_t kMaxClasses = 65536;
  if (value >= kMaxClasses) {
    throw DataError(table.describe_cell(row, col) + ": label " + shortest_text(value) +
                    " is too large for a class label: labels go from 0 to " + std::to_string(kMaxClasses - 1) +
                    " (one output per class, at most " + std::to_string(kMaxClasses) +
                    " classes); pick the class column with --label-column, or load the file with --task regression");
  }
  const auto label = static_cast<std::int32_t>(value);
  const auto declared = table.class_names.size();
  if (declared > 0 && static_cast<std::size_t>(label) >= declared) {
    throw DataError(table.describe_cell(row, col) + ": label " + std::to_string(label) +
                    " is out of range: the header names " + std::to_string(declared) + " classes (" +
                    join(table.class_names, ", ") + ")");
  }
  return label;
}

// label_col: the column to leave out, or table.cols for none.
void fill_features(const NumericTable& table, std::size_t label_col, Dataset& dataset) {
  dataset.features.reserve(dataset.rows * dataset.cols);
  for (std::size_t col = 0; col < table.column_names.size(); ++col) {
    if (col != label_col) dataset.feature_names.push_back(table.column_names[col]);
  }
  for (std::size_t row = 0; row < table.rows; ++row) {
    for (std::size_t col = 0; col < table.cols; ++col) {
      if (col != label_col) {
        dataset.features.push_back(checked_float(table, row, col));
      }
    }
  }
  if (table.feature_values_are_bytes) {
    dataset.raw_bytes.assign(dataset.features.begin(), dataset.features.end());
  }
}

void fill_labels(const NumericTable& table, std::size_t label_col, Dataset& dataset) {
  dataset.labels.reserve(table.rows);
  std::int32_t max_label = -1;
  for (std::size_t row = 0; row < table.rows; ++row) {
    dataset.labels.push_back(checked_label(table, row, label_col));
    max_label = std::max(max_label, dataset.labels.back());
  }
  dataset.num_classes = std::max<int>(max_label + 1, static_cast<int>(table.class_names.size()));
}

void fill_targets(const NumericTable& table, std::size_t label_col, Dataset& dataset) {
  dataset.targets.reserve(table.rows);
  for (std::size_t row = 0; row < table.rows; ++row) {
    dataset.targets.push_back(checked_float(table, row, label_col));
  }
  dataset.target_width = 1;
}

}  // namespace

Dataset table_to_dataset(const NumericTable& table, const LoadOptions& options) {
  if (table.cols < 2) {
    throw DataError(table.source + ": has " + std::to_string(table.cols) +
                    " column(s); at least one feature column and one label column are needed");
  }
  if (table.rows == 0) {
    throw DataError(table.source + ": holds no rows");
  }
  const std::size_t label_col = label_column_of(table, options);
  Dataset dataset;
  dataset.task = options.task;
  dataset.rows = table.rows;
  dataset.cols = table.cols - 1;
  fill_features(table, label_col, dataset);
  if (options.task == Task::classification) {
    fill_labels(table, label_col, dataset);
  } else {
    fill_targets(table, label_col, dataset);
  }
  set_identity_scaling(dataset);
  return dataset;
}

Dataset table_features(const NumericTable& table, std::size_t feature_count, const LoadOptions& options) {
  if (table.rows == 0) throw DataError(table.source + ": holds no rows");
  if (table.cols != feature_count && table.cols != feature_count + 1)
    throw DataError(table.source + ": its rows hold " + std::to_string(table.cols) + " values, but the model takes " +
                    std::to_string(feature_count) + " features: give rows of the " + std::to_string(feature_count) +
                    " feature columns it was trained on, in the same order, optionally with the label column");
  const std::size_t label_col = table.cols == feature_count ? table.cols : label_column_of(table, options);
  Dataset dataset;
  dataset.task = options.task;
  dataset.rows = table.rows;
  dataset.cols = feature_count;
  fill_features(table, label_col, dataset);
  set_identity_scaling(dataset);
  return dataset;
}

void set_identity_scaling(Dataset& dataset) {
  dataset.column_scale.assign(dataset.cols, 1.0f);
  dataset.column_offset.assign(dataset.cols, 0.0f);
}

}  // namespace mlptune::data
