// split_and_scale: a seeded choice of the rows for train/validation/test (each split keeping the
// file's order), then per-column scaling fitted on the training split only and applied to all three
// (and target standardisation for regression).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/counter_rng.hpp"
#include "common/number_text.hpp"
#include "data/split_fraction.hpp"
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

// Which rows a split takes comes from the seeded permutation; the split keeps them in file order,
// so a run with shuffling off trains in the order of the file.
std::vector<std::size_t> in_file_order(std::span<const std::size_t> rows) {
  std::vector<std::size_t> sorted(rows.begin(), rows.end());
  std::sort(sorted.begin(), sorted.end());
  return sorted;
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
  selected.feature_names = source.feature_names;
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

// (x - low) / spread as one multiply-add. A column without a spread float32 can scale (constant,
// or varying by less than 1 / FLT_MAX, so that 1 / spread overflows) maps everything to 0.
void set_affine(ColumnMap& map, std::size_t col, double low, double spread) {
  const double inverse = spread > 0 ? 1.0 / spread : 0.0;
  const double scale = inverse <= std::numeric_limits<float>::max() ? inverse : 0.0;
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

// Computes every feature with exactly the expression the Dataset contract states. A value the
// training split's map sends beyond float32 (far outside the training range of a column that
// varies little) is refused: it would make every loss NaN.
void apply_columns(const ColumnMap& map, Dataset& split, std::string_view split_name) {
  for (std::size_t row = 0; row < split.rows; ++row) {
    for (std::size_t col = 0; col < split.cols; ++col) {
      const std::size_t index = row * split.cols + col;
      const float source = source_value(split, index);
      split.features[index] = std::fma(source, map.scale[col], map.offset[col]);
      if (!std::isfinite(split.features[index]))
        throw DataError(split.name + ": column " + std::to_string(col) + " of " + std::string(split_name) + " row " +
                        std::to_string(row) + " holds " + shortest_text(source) +
                        ", which the scaling fitted on the training split takes beyond float32's range; the "
                        "column varies far less in the training rows: try --scaling none, or drop the column");
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
  for (auto [split, name] : {std::pair{&splits.train, "train"}, std::pair{&splits.validation, "validation"},
                             std::pair{&splits.test, "test"}}) {
    apply_columns(columns, *split, name);
    if (scale_targets) {
      apply_targets(targets, *split);
    }
  }
}

std::size_t rounded_share(double fraction, std::size_t rows) {
  return static_cast<std::size_t>(std::llround(fraction * double(rows)));
}

// The smallest fraction, at two significant digits, that holds out at least one of `rows` rows.
std::string fraction_for_one_row(std::size_t rows) {
  const double smallest = 0.5 / double(rows);  // rounded_share(fraction, rows) >= 1
  const double unit = std::pow(10.0, std::floor(std::log10(smallest)) - 1);
  char text[32];
  std::snprintf(text, sizeof text, "%.2g", std::ceil(smallest / unit) * unit);
  return text;
}

struct SplitRows {
  std::size_t train = 0;
  std::size_t validation = 0;
  std::size_t test = 0;
};

// "18 train, 162 validation and 1617 test rows"
std::string rows_text(const SplitRows& rows) {
  return std::to_string(rows.train) + " train, " + std::to_string(rows.validation) + " validation and " +
         std::to_string(rows.test) + " test rows";
}

// Shares `total` rows of set `name` out by the fractions (own_test_rows: a test split of the set's
// own, else nullopt), refusing a fraction out of its range, and one above 0 that rounds to no row:
// the split asked for would silently be empty.
SplitRows share_rows(const std::string& name, std::size_t total, std::optional<std::size_t> own_test_rows,
                     const SplitOptions& options) {
  const auto refuse_empty = [](std::string_view split, double fraction, std::size_t rows) {
    throw SettingError(std::string(split) + "_fraction", shortest_text(fraction) + " of " + std::to_string(rows) +
                                                             " rows holds out no row: use 0 for no " +
                                                             std::string(split) + " split, or " +
                                                             fraction_for_one_row(rows) + " or more for one row");
  };
  SplitRows rows;
  if (own_test_rows) {
    rows.test = *own_test_rows;
  } else {
    if (!data::kTestFractionRange.contains(options.test_fraction))
      throw SettingError("test_fraction", "must be " + data::kTestFractionRange.describe() + " (got " +
                                              shortest_text(options.test_fraction) + ")");
    rows.test = rounded_share(options.test_fraction, total);
    if (options.test_fraction > 0 && rows.test == 0 && total > 0) refuse_empty("test", options.test_fraction, total);
  }
  const std::size_t training_part = total - (own_test_rows ? 0 : rows.test);
  const double fraction = options.validation_fraction;
  const Range& range = data::kValidationFractionRange;
  if (fraction > range.high && fraction < 1) {
    const std::size_t held = rounded_share(fraction, training_part);
    throw SettingError("validation_fraction",
                       "must be " + range.describe() + " (got " + shortest_text(fraction) + ", which would split " +
                           name + " into " + rows_text({training_part - held, held, rows.test}) +
                           "): it is the share of the rows left for training that validation takes, and the "
                           "training split may not be the smaller one; lower it (the default is " +
                           shortest_text(SplitOptions{}.validation_fraction) + ")");
  }
  if (!range.contains(fraction))
    throw SettingError("validation_fraction", "must be " + range.describe() + " (got " + shortest_text(fraction) + ")");
  rows.validation = rounded_share(fraction, training_part);
  // With no rows left for training, check_training_rows says so with the counts.
  if (fraction > 0 && rows.validation == 0 && training_part > 0) refuse_empty("validation", fraction, training_part);
  rows.train = training_part - rows.validation;
  return rows;
}

// The training split needs at least 2 rows, and one per class.
void check_training_rows(const std::string& name, const SplitRows& rows, int num_classes, bool own_test) {
  const std::size_t minimum = std::max<std::size_t>(2, static_cast<std::size_t>(std::max(num_classes, 0)));
  if (rows.train >= minimum) return;
  const SplitOptions defaults;
  const std::string fix = own_test
                              ? "lower " + flag_for("validation_fraction") + " (the default is " +
                                    shortest_text(defaults.validation_fraction) + ")"
                              : "lower the fractions (the defaults are " + flag_for("test_fraction") + " " +
                                    shortest_text(defaults.test_fraction) + " and " + flag_for("validation_fraction") +
                                    " " + shortest_text(defaults.validation_fraction) + ")";
  throw ConfigError(name + ": the split leaves " + rows_text(rows) + "; the training split needs at least " +
                    std::to_string(minimum) + " rows" + (num_classes >= 2 ? " (one per class)" : "") + ": " + fix);
}

// A test set of its own must have the training set's columns: as many, with the same names where
// both files name them, and the same task.
void check_compatible(const Dataset& train, const Dataset& test) {
  const std::string fix = "; the test file needs the training file's columns, in the same order";
  if (train.task != test.task || train.target_width != test.target_width)
    throw DataError(test.name + ": its targets differ from those of " + train.name + fix);
  if (train.cols != test.cols)
    throw DataError(test.name + ": has " + std::to_string(test.cols) + " feature columns besides the label, " +
                    train.name + " has " + std::to_string(train.cols) + fix);
  if (train.feature_names.empty() || test.feature_names.empty()) return;
  for (std::size_t col = 0; col < train.cols; ++col) {
    if (train.feature_names[col] != test.feature_names[col])
      throw DataError(test.name + ": feature column " + std::to_string(col) + " is named '" + test.feature_names[col] +
                      "', in " + train.name + " it is '" + train.feature_names[col] + "'" + fix);
  }
}

}  // namespace

DataSplits split_and_scale(const Dataset& all, const SplitOptions& options) {
  const SplitRows rows = share_rows(all.name, all.rows, std::nullopt, options);
  check_training_rows(all.name, rows, all.task == Task::classification ? all.num_classes : 0, false);
  const std::vector<std::size_t> order = seeded_permutation(all.rows, options.seed);
  const std::span<const std::size_t> shuffled(order);
  DataSplits splits{select_rows(all, in_file_order(shuffled.subspan(rows.test + rows.validation))),
                    select_rows(all, in_file_order(shuffled.subspan(rows.test, rows.validation))),
                    select_rows(all, in_file_order(shuffled.first(rows.test)))};
  scale_splits(splits, options);
  return splits;
}

void scale_features(Dataset& rows, const std::vector<float>& column_scale, const std::vector<float>& column_offset) {
  if (column_scale.size() != rows.cols || column_offset.size() != rows.cols)
    throw DataError(rows.name + ": has " + std::to_string(rows.cols) + " feature columns, the scaling " +
                    std::to_string(column_scale.size()));
  apply_columns({column_scale, column_offset}, rows, "input");
}

DataSplits split_and_scale(const Dataset& train, const Dataset& test, const SplitOptions& options) {
  check_compatible(train, test);
  // Every split reports the same output width, even when a class is missing from one of them.
  const int num_classes = std::max(train.num_classes, test.num_classes);
  const SplitRows rows = share_rows(train.name, train.rows, test.rows, options);
  check_training_rows(train.name, rows, train.task == Task::classification ? num_classes : 0, true);
  const std::vector<std::size_t> order = seeded_permutation(train.rows, options.seed);
  const std::span<const std::size_t> shuffled(order);
  std::vector<std::size_t> test_order(test.rows);
  std::iota(test_order.begin(), test_order.end(), std::size_t{0});
  DataSplits splits{select_rows(train, in_file_order(shuffled.subspan(rows.validation))),
                    select_rows(train, in_file_order(shuffled.first(rows.validation))), select_rows(test, test_order)};
  for (Dataset* split : {&splits.train, &splits.validation, &splits.test}) {
    split->num_classes = num_classes;
  }
  scale_splits(splits, options);
  return splits;
}

}  // namespace mlptune
