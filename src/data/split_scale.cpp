// split_and_scale: a seeded shuffle into train/validation/test, then per-column scaling fitted on
// the training split only and applied to all three (and target standardisation for regression).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>

#include "common/counter_rng.hpp"
#include "mlptune/data.hpp"
#include "mlptune/error.hpp"

namespace mlptune {

namespace {

constexpr std::uint64_t kSplitStream = 0x53504C4954ull;  // "SPLIT"

// Rows ordered by a hash of (seed, row): a permutation that depends on the seed only, not on a
// standard library's shuffle; ties (probability ~rows^2 / 2^64) fall back to the row index.
std::vector<std::size_t> seeded_permutation(std::size_t rows, std::uint64_t seed) {
  std::vector<std::uint64_t> keys(rows);
  for (std::size_t row = 0; row < rows; ++row) {
    keys[row] = rng::hash(seed, kSplitStream, row);
  }
  std::vector<std::size_t> order(rows);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return keys[a] != keys[b] ? keys[a] < keys[b] : a < b; });
  return order;
}

template <typename T>
std::vector<T> gather_rows(const std::vector<T>& values, std::size_t width, std::span<const std::size_t> rows) {
  std::vector<T> selected;
  if (values.empty()) {
    return selected;
  }
  selected.reserve(rows.size() * width);
  for (const std::size_t row : rows) {
    selected.insert(selected.end(), values.begin() + row * width, values.begin() + (row + 1) * width);
  }
  return selected;
}

// The rows of `source` in the given order, with everything that describes them.
Dataset select_rows(const Dataset& source, std::span<const std::size_t> rows) {
  Dataset selected;
  selected.name = source.name;
  selected.task = source.task;
  selected.rows = rows.size();
  selected.cols = source.cols;
  selected.num_classes = source.num_classes;
  selected.target_width = source.target_width;
  selected.target_offset = source.target_offset;
  selected.target_scale = source.target_scale;
  selected.column_scale = source.column_scale;
  selected.column_offset = source.column_offset;
  selected.features = gather_rows(source.features, source.cols, rows);
  selected.raw_bytes = gather_rows(source.raw_bytes, source.cols, rows);
  selected.labels = gather_rows(source.labels, 1, rows);
  selected.targets = gather_rows(source.targets, static_cast<std::size_t>(source.target_width), rows);
  return selected;
}

// The value the column map applies to: the file's byte when there is one (so the fma invariant
// holds against raw_bytes), else the loaded feature.
float source_value(const Dataset& data, std::size_t index) {
  return data.raw_bytes.empty() ? data.features[index] : static_cast<float>(data.raw_bytes[index]);
}

struct ColumnMap {
  std::vector<float> scale;
  std::vector<float> offset;
};

ColumnMap identity_map(std::size_t cols) {
  return {std::vector<float>(cols, 1.0f), std::vector<float>(cols, 0.0f)};
}

// (x - low) / spread as one multiply-add; a zero spread (constant column) maps everything to 0.
void set_affine(ColumnMap& map, std::size_t col, double low, double spread) {
  const double scale = spread > 0 ? 1.0 / spread : 0.0;
  map.scale[col] = static_cast<float>(scale);
  map.offset[col] = static_cast<float>(-low * scale);
}

ColumnMap fit_minmax(const Dataset& train) {
  ColumnMap map = identity_map(train.cols);
  for (std::size_t col = 0; col < train.cols; ++col) {
    double low = source_value(train, col), high = low;
    for (std::size_t row = 1; row < train.rows; ++row) {
      const double value = source_value(train, row * train.cols + col);
      low = std::min(low, value);
      high = std::max(high, value);
    }
    set_affine(map, col, low, high - low);
  }
  return map;
}

// Population statistics (ddof 0), as scikit-learn's StandardScaler; two passes for accuracy.
ColumnMap fit_standard(const Dataset& train) {
  ColumnMap map = identity_map(train.cols);
  for (std::size_t col = 0; col < train.cols; ++col) {
    double sum = 0;
    for (std::size_t row = 0; row < train.rows; ++row) {
      sum += source_value(train, row * train.cols + col);
    }
    const double mean = sum / double(train.rows);
    double squares = 0;
    for (std::size_t row = 0; row < train.rows; ++row) {
      const double deviation = source_value(train, row * train.cols + col) - mean;
      squares += deviation * deviation;
    }
    set_affine(map, col, mean, std::sqrt(squares / double(train.rows)));
  }
  return map;
}

ColumnMap fit_columns(const Dataset& train, Scaling scaling) {
  switch (scaling) {
    case Scaling::minmax:
      return fit_minmax(train);
    case Scaling::standard:
      return fit_standard(train);
    case Scaling::none:
      break;
  }
  return identity_map(train.cols);
}

// Computes every feature with exactly the expression the Dataset contract states.
void apply_columns(const ColumnMap& map, Dataset& split) {
  for (std::size_t row = 0; row < split.rows; ++row) {
    for (std::size_t col = 0; col < split.cols; ++col) {
      const std::size_t index = row * split.cols + col;
      split.features[index] = std::fma(source_value(split, index), map.scale[col], map.offset[col]);
    }
  }
  split.column_scale = map.scale;
  split.column_offset = map.offset;
}

// Targets in file units are target * target_scale + target_offset; the new map is fitted on those.
struct TargetMap {
  double offset = 0.0;
  double scale = 1.0;
};

double file_units(const Dataset& data, std::size_t index) {
  return double(data.targets[index]) * data.target_scale + data.target_offset;
}

TargetMap fit_targets(const Dataset& train) {
  const std::size_t count = train.targets.size();
  double sum = 0;
  for (std::size_t index = 0; index < count; ++index) {
    sum += file_units(train, index);
  }
  const double mean = sum / double(count);
  double squares = 0;
  for (std::size_t index = 0; index < count; ++index) {
    squares += (file_units(train, index) - mean) * (file_units(train, index) - mean);
  }
  const double deviation = std::sqrt(squares / double(count));
  return {mean, deviation > 0 ? deviation : 1.0};
}

void apply_targets(const TargetMap& map, Dataset& split) {
  for (std::size_t index = 0; index < split.targets.size(); ++index) {
    split.targets[index] = static_cast<float>((file_units(split, index) - map.offset) / map.scale);
  }
  split.target_offset = map.offset;
  split.target_scale = map.scale;
}

void scale_splits(DataSplits& splits, const SplitOptions& options) {
  const ColumnMap columns = fit_columns(splits.train, options.scaling);
  const bool scale_targets = options.scale_targets && splits.train.task == Task::regression;
  const TargetMap targets = scale_targets ? fit_targets(splits.train) : TargetMap{};
  for (Dataset* split : {&splits.train, &splits.validation, &splits.test}) {
    apply_columns(columns, *split);
    if (scale_targets) {
      apply_targets(targets, *split);
    }
  }
}

void check_fraction(const char* name, double fraction) {
  if (!(fraction >= 0.0 && fraction < 1.0)) {
    throw ConfigError(std::string(name) + " " + std::to_string(fraction) + " must be in [0, 1)");
  }
}

// Rows for validation (taken from the training part); at least one row must stay for training.
std::size_t validation_rows(const std::string& name, std::size_t training_part, double fraction) {
  check_fraction("validation_fraction", fraction);
  const auto rows = static_cast<std::size_t>(std::llround(fraction * double(training_part)));
  if (rows >= training_part) {
    throw ConfigError(name + ": validation_fraction " + std::to_string(fraction) + " of " +
                      std::to_string(training_part) + " rows leaves no training rows");
  }
  return rows;
}

void check_compatible(const Dataset& train, const Dataset& test) {
  if (train.cols != test.cols || train.task != test.task || train.target_width != test.target_width) {
    throw DataError(test.name + ": its " + std::to_string(test.cols) + " columns or task differ from those of " +
                    train.name + " (" + std::to_string(train.cols) + " columns); the two splits must match");
  }
}

}  // namespace

DataSplits split_and_scale(const Dataset& all, const SplitOptions& options) {
  check_fraction("test_fraction", options.test_fraction);
  const auto test_rows = static_cast<std::size_t>(std::llround(options.test_fraction * double(all.rows)));
  if (test_rows >= all.rows) {
    throw ConfigError(all.name + ": test_fraction " + std::to_string(options.test_fraction) + " of " +
                      std::to_string(all.rows) + " rows leaves no training rows");
  }
  const std::size_t validation = validation_rows(all.name, all.rows - test_rows, options.validation_fraction);
  const std::vector<std::size_t> order = seeded_permutation(all.rows, options.seed);
  const std::span<const std::size_t> rows(order);
  DataSplits splits{select_rows(all, rows.subspan(test_rows + validation)),
                    select_rows(all, rows.subspan(test_rows, validation)), select_rows(all, rows.first(test_rows))};
  scale_splits(splits, options);
  return splits;
}

DataSplits split_and_scale(const Dataset& train, const Dataset& test, const SplitOptions& options) {
  check_compatible(train, test);
  const std::size_t validation = validation_rows(train.name, train.rows, options.validation_fraction);
  const std::vector<std::size_t> order = seeded_permutation(train.rows, options.seed);
  const std::span<const std::size_t> rows(order);
  std::vector<std::size_t> test_order(test.rows);
  std::iota(test_order.begin(), test_order.end(), std::size_t{0});
  DataSplits splits{select_rows(train, rows.subspan(validation)), select_rows(train, rows.first(validation)),
                    select_rows(test, test_order)};
  // Every split reports the same output width, even when a class is missing from one of them.
  const int num_classes = std::max(train.num_classes, test.num_classes);
  for (Dataset* split : {&splits.train, &splits.validation, &splits.test}) {
    split->num_classes = num_classes;
  }
  scale_splits(splits, options);
  return splits;
}

}  // namespace mlptune
