// split_and_scale: split sizes and determinism, scaling fitted on train only, the fma invariant,
// target standardisation, and option errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "mlptune/data.hpp"
#include "mlptune/error.hpp"

namespace mlptune {
namespace {

// Column 0 holds the row's index, so a split's rows can be traced back; column 1 varies.
Dataset indexed_set(std::size_t rows) {
  Dataset data;
  data.name = "indexed";
  data.rows = rows;
  data.cols = 2;
  data.num_classes = 3;
  for (std::size_t row = 0; row < rows; ++row) {
    data.features.push_back(static_cast<float>(row));
    data.features.push_back(static_cast<float>((row * 7919) % 101) * 0.25f - 3.0f);
    data.labels.push_back(static_cast<std::int32_t>(row % 3));
  }
  data.column_scale.assign(2, 1.0f);
  data.column_offset.assign(2, 0.0f);
  return data;
}

SplitOptions unscaled(std::uint64_t seed) {
  SplitOptions options;
  options.scaling = Scaling::none;
  options.seed = seed;
  return options;
}

std::vector<float> first_column(const Dataset& data) {
  std::vector<float> column;
  for (std::size_t row = 0; row < data.rows; ++row) {
    column.push_back(data.features[row * data.cols]);
  }
  return column;
}

double column_mean(const Dataset& data, std::size_t col) {
  double sum = 0;
  for (std::size_t row = 0; row < data.rows; ++row) {
    sum += data.features[row * data.cols + col];
  }
  return sum / double(data.rows);
}

double column_stddev(const Dataset& data, std::size_t col) {
  const double mean = column_mean(data, col);
  double squares = 0;
  for (std::size_t row = 0; row < data.rows; ++row) {
    squares += std::pow(data.features[row * data.cols + col] - mean, 2);
  }
  return std::sqrt(squares / double(data.rows));
}

TEST(SplitAndScale, SplitsByFractionsWithValidationFromTheTrainingPart) {
  const DataSplits splits = split_and_scale(indexed_set(1000), unscaled(1));
  // test: 20% of 1000; validation: 10% of the remaining 800.
  EXPECT_EQ(splits.test.rows, 200u);
  EXPECT_EQ(splits.validation.rows, 80u);
  EXPECT_EQ(splits.train.rows, 720u);
  std::set<float> seen;
  for (const Dataset* split : {&splits.train, &splits.validation, &splits.test}) {
    const auto column = first_column(*split);
    seen.insert(column.begin(), column.end());
    EXPECT_EQ(split->labels.size(), split->rows);
    for (std::size_t row = 0; row < split->rows; ++row) {
      EXPECT_EQ(split->labels[row], static_cast<std::int32_t>(column[row]) % 3) << "labels follow their rows";
    }
    EXPECT_EQ(split->num_classes, 3);
  }
  EXPECT_EQ(seen.size(), 1000u) << "every row lands in exactly one split";
}

TEST(SplitAndScale, IsDeterministicForASeedAndDiffersAcrossSeeds) {
  const Dataset all = indexed_set(500);
  const DataSplits first = split_and_scale(all, unscaled(7));
  const DataSplits again = split_and_scale(all, unscaled(7));
  const DataSplits other = split_and_scale(all, unscaled(8));
  EXPECT_EQ(first_column(first.train), first_column(again.train));
  EXPECT_EQ(first_column(first.validation), first_column(again.validation));
  EXPECT_EQ(first_column(first.test), first_column(again.test));
  EXPECT_NE(first_column(first.test), first_column(other.test));
  // A seeded choice, not a cut: the test rows are not one run of neighbouring rows.
  const auto test_rows = first_column(first.test);
  EXPECT_GT(test_rows.back() - test_rows.front() + 1, float(test_rows.size()));
}

// The seeded permutation picks each split's rows; each split keeps them in the order of the
// source, so a run without shuffling trains in the order of the file.
TEST(SplitAndScale, EachSplitKeepsTheRowsInTheOrderOfTheSource) {
  const Dataset all = indexed_set(500);
  const DataSplits splits = split_and_scale(all, unscaled(7));
  std::set<float> seen;
  for (const Dataset* split : {&splits.train, &splits.validation, &splits.test}) {
    const auto rows = first_column(*split);
    EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end())) << "split " << split->rows << " rows";
    seen.insert(rows.begin(), rows.end());
  }
  EXPECT_EQ(seen.size(), 500u) << "every row is in one split";

  SplitOptions no_holdout = unscaled(7);
  no_holdout.validation_fraction = 0;
  no_holdout.test_fraction = 0;
  EXPECT_EQ(first_column(split_and_scale(all, no_holdout).train), first_column(all));

  const DataSplits with_test = split_and_scale(all, indexed_set(40), unscaled(9));
  for (const Dataset* split : {&with_test.train, &with_test.validation}) {
    const auto rows = first_column(*split);
    EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end()));
  }
  SplitOptions own_test_no_validation = unscaled(9);
  own_test_no_validation.validation_fraction = 0;
  EXPECT_EQ(first_column(split_and_scale(all, indexed_set(40), own_test_no_validation).train), first_column(all));
}

TEST(SplitAndScale, StandardScalingIsFittedOnTrainOnly) {
  // Train values spread around 0; the test set is the same spread shifted by +5.
  Dataset train = indexed_set(400);
  Dataset test = train;
  for (float& value : test.features) {
    value += 5.0f;
  }
  SplitOptions options;
  options.scaling = Scaling::standard;
  options.validation_fraction = 0.0;
  const DataSplits splits = split_and_scale(train, test, options);
  for (std::size_t col = 0; col < 2; ++col) {
    EXPECT_NEAR(column_mean(splits.train, col), 0.0, 1e-5);
    EXPECT_NEAR(column_stddev(splits.train, col), 1.0, 1e-5);
    // The shift stays visible: 5 in units of the train spread, not re-centred to zero.
    const double expected_shift = 5.0 / column_stddev(train, col);
    EXPECT_NEAR(column_mean(splits.test, col), expected_shift, 1e-4);
  }
}

TEST(SplitAndScale, MinMaxMapsTrainToUnitRangeAndConstantColumnsToZero) {
  Dataset all = indexed_set(300);
  for (std::size_t row = 0; row < all.rows; ++row) {
    all.features[row * 2 + 1] = 4.5f;  // constant column
  }
  SplitOptions options;
  options.scaling = Scaling::minmax;
  const DataSplits splits = split_and_scale(all, options);
  const auto column = first_column(splits.train);
  EXPECT_NEAR(*std::min_element(column.begin(), column.end()), 0.0f, 1e-6);
  EXPECT_NEAR(*std::max_element(column.begin(), column.end()), 1.0f, 1e-6);
  for (const Dataset* split : {&splits.train, &splits.validation, &splits.test}) {
    for (std::size_t row = 0; row < split->rows; ++row) {
      EXPECT_EQ(split->features[row * 2 + 1], 0.0f);
    }
  }
}

TEST(SplitAndScale, FeaturesAreTheColumnMapOfTheSourceValuesExactly) {
  const Dataset all = indexed_set(250);
  // The same seed selects the same rows, so the unscaled split holds each row's source values.
  const DataSplits sources = split_and_scale(all, unscaled(0));
  const Dataset* source_splits[] = {&sources.train, &sources.validation, &sources.test};
  for (const Scaling scaling : {Scaling::none, Scaling::minmax, Scaling::standard}) {
    SplitOptions options = unscaled(0);
    options.scaling = scaling;
    const DataSplits splits = split_and_scale(all, options);
    const Dataset* scaled_splits[] = {&splits.train, &splits.validation, &splits.test};
    for (std::size_t which = 0; which < 3; ++which) {
      const Dataset& split = *scaled_splits[which];
      const Dataset& source = *source_splits[which];
      ASSERT_EQ(split.column_scale.size(), 2u);
      ASSERT_EQ(split.column_offset.size(), 2u);
      EXPECT_EQ(split.column_scale, splits.train.column_scale) << "one map for all splits";
      ASSERT_EQ(split.features.size(), source.features.size());
      for (std::size_t index = 0; index < split.features.size(); ++index) {
        const std::size_t col = index % 2;
        ASSERT_EQ(split.features[index],
                  std::fma(source.features[index], split.column_scale[col], split.column_offset[col]));
      }
    }
    if (scaling == Scaling::none) {
      EXPECT_EQ(splits.train.column_scale, std::vector<float>(2, 1.0f));
      EXPECT_EQ(splits.train.column_offset, std::vector<float>(2, 0.0f));
    } else {
      EXPECT_NE(splits.train.column_scale, std::vector<float>(2, 1.0f));
    }
  }
}

TEST(SplitAndScale, CarriesRawBytesAndKeepsTheFmaInvariantOnThem) {
  Dataset all = indexed_set(256);
  all.raw_bytes.clear();
  for (std::size_t row = 0; row < all.rows; ++row) {
    for (std::size_t col = 0; col < 2; ++col) {
      const auto byte = static_cast<std::uint8_t>((row * (col + 3)) % 256);
      all.raw_bytes.push_back(byte);
      all.features[row * 2 + col] = byte;
    }
  }
  SplitOptions options;
  options.scaling = Scaling::standard;
  const DataSplits splits = split_and_scale(all, options);
  for (const Dataset* split : {&splits.train, &splits.validation, &splits.test}) {
    ASSERT_EQ(split->raw_bytes.size(), split->rows * 2);
    for (std::size_t index = 0; index < split->raw_bytes.size(); ++index) {
      const std::size_t col = index % 2;
      ASSERT_EQ(split->features[index],
                std::fma(float(split->raw_bytes[index]), split->column_scale[col], split->column_offset[col]));
    }
  }
}

TEST(SplitAndScale, StandardisesRegressionTargetsOnTrainAndRecordsTheMap) {
  const Dataset line = make_line(600, 3.0, 100.0, 1.0, 4);
  SplitOptions options;
  options.scaling = Scaling::none;
  options.scale_targets = true;
  const DataSplits splits = split_and_scale(line, options);
  double sum = 0, squares = 0;
  for (const float target : splits.train.targets) {
    sum += target;
    squares += double(target) * target;
  }
  const double n = double(splits.train.targets.size());
  EXPECT_NEAR(sum / n, 0.0, 1e-5);
  EXPECT_NEAR(std::sqrt(squares / n), 1.0, 1e-5);
  EXPECT_NEAR(splits.train.target_offset, 100.0, 0.5);
  // Every split maps back to the file's values: raw = target * target_scale + target_offset.
  for (const Dataset* split : {&splits.train, &splits.validation, &splits.test}) {
    EXPECT_EQ(split->target_offset, splits.train.target_offset);
    EXPECT_EQ(split->target_scale, splits.train.target_scale);
    for (std::size_t row = 0; row < split->rows; ++row) {
      const float x = split->features[row];
      const double raw = split->targets[row] * split->target_scale + split->target_offset;
      EXPECT_NEAR(raw, 3.0 * x + 100.0, 5.0);  // noise stddev 1: 5 sigma
    }
  }
}

TEST(SplitAndScale, LeavesTargetsAloneWithoutScaleTargets) {
  const Dataset line = make_line(100, 2.0, 1.0, 0.1, 0);
  const DataSplits splits = split_and_scale(line, unscaled(0));
  EXPECT_EQ(splits.train.target_offset, 0.0);
  EXPECT_EQ(splits.train.target_scale, 1.0);
  EXPECT_EQ(splits.train.rows + splits.validation.rows + splits.test.rows, 100u);
}

TEST(SplitAndScale, KeepsAGivenTestSplitWhole) {
  const Dataset train = indexed_set(100);
  Dataset test = indexed_set(30);
  test.num_classes = 5;
  const DataSplits splits = split_and_scale(train, test, unscaled(3));
  EXPECT_EQ(splits.test.rows, 30u);
  EXPECT_EQ(first_column(splits.test), first_column(test)) << "the given test split keeps its order";
  EXPECT_EQ(splits.validation.rows, 10u);
  EXPECT_EQ(splits.train.rows, 90u);
  EXPECT_EQ(splits.train.num_classes, 5) << "every split reports the same output width";
}

TEST(SplitAndScale, RejectsFractionsOutsideTheUnitInterval) {
  const Dataset all = indexed_set(10);
  SplitOptions options;
  options.test_fraction = 1.0;
  EXPECT_THROW(split_and_scale(all, options), ConfigError);
  options.test_fraction = -0.1;
  EXPECT_THROW(split_and_scale(all, options), ConfigError);
  options.test_fraction = 0.2;
  options.validation_fraction = 0.99;  // leaves no training rows of 8
  EXPECT_THROW(split_and_scale(all, options), ConfigError);
}

std::string split_error(const Dataset& all, const SplitOptions& options) {
  try {
    split_and_scale(all, options);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(SplitAndScale, AFractionOutOfRangeNamesItsFlagAndTheRange) {
  SplitOptions options;
  options.validation_fraction = std::nan("");
  EXPECT_EQ(split_error(indexed_set(100), options), "--validation-fraction must be in [0, 0.5] (got nan)");
  options = SplitOptions{};
  options.test_fraction = -0.25;
  EXPECT_EQ(split_error(indexed_set(100), options), "--test-fraction must be in [0, 1) (got -0.25)");
}

TEST(SplitAndScale, AValidationSplitLargerThanTheTrainingSplitIsRefusedWithTheRowCounts) {
  SplitOptions options;
  options.test_fraction = 0.9;
  options.validation_fraction = 0.9;
  // 900 test rows, then 0.9 of the remaining 100 for validation: 10 would be left to train on.
  const std::string message = split_error(indexed_set(1000), options);
  EXPECT_NE(message.find("--validation-fraction must be in [0, 0.5] (got 0.9"), std::string::npos) << message;
  EXPECT_NE(message.find("indexed into 10 train, 90 validation and 900 test rows"), std::string::npos) << message;
  EXPECT_NE(message.find("(the default is 0.1)"), std::string::npos) << message;
  options.validation_fraction = 0.5;
  const DataSplits half = split_and_scale(indexed_set(1000), options);
  EXPECT_EQ(half.train.rows, 50u);
  EXPECT_EQ(half.validation.rows, 50u);
}

TEST(SplitAndScale, AFractionAboveZeroThatRoundsToNoRowIsRefused) {
  SplitOptions options;
  options.validation_fraction = 0.001;  // of the 80 rows left after 20 test rows: 0.08 rounds to 0
  EXPECT_EQ(split_error(indexed_set(100), options),
            "--validation-fraction 0.001 of 80 rows holds out no row: use 0 for no validation split, or 0.0063 or "
            "more for one row");
  options.validation_fraction = 0.0063;
  EXPECT_EQ(split_and_scale(indexed_set(100), options).validation.rows, 1u) << "the suggested fraction works";
  options.validation_fraction = 0.0;
  EXPECT_EQ(split_and_scale(indexed_set(100), options).validation.rows, 0u) << "0 asks for no split";
}

TEST(SplitAndScale, TooFewTrainingRowsForTheClassesAreRefusedWithTheRowCounts) {
  SplitOptions options;
  options.test_fraction = 0.98;
  options.validation_fraction = 0.0;
  EXPECT_EQ(split_error(indexed_set(100), options),
            "indexed: the split leaves 2 train, 0 validation and 98 test rows; the training split needs at least 3 "
            "rows (one per class): lower the fractions (the defaults are --test-fraction 0.2 and "
            "--validation-fraction 0.1)");
  options.test_fraction = 0.97;
  EXPECT_EQ(split_and_scale(indexed_set(100), options).train.rows, 3u);
  options.test_fraction = 0.99;  // all 10 rows
  options.validation_fraction = 0.1;
  EXPECT_EQ(split_error(indexed_set(10), options)
                .rfind("indexed: the split leaves 0 train, 0 validation and 10 test "
                       "rows; the training split needs at least 3 rows",
                       0),
            0u)
      << split_error(indexed_set(10), options);
}

TEST(SplitAndScale, RejectsATestSetWithOtherColumns) {
  const Dataset train = indexed_set(10);
  Dataset test = indexed_set(5);
  test.cols = 1;
  test.features.resize(5);
  EXPECT_THROW(split_and_scale(train, test, SplitOptions{}), DataError);
}

TEST(SplitAndScale, ATestSetWithOtherColumnsIsRefusedWithBothCountsOrTheNames) {
  Dataset train = indexed_set(10);
  train.name = "train.csv";
  Dataset test = indexed_set(5);
  test.name = "test.csv";
  test.cols = 1;
  test.features.resize(5);
  try {
    split_and_scale(train, test, SplitOptions{});
    ADD_FAILURE() << "no error";
  } catch (const DataError& error) {
    EXPECT_STREQ(error.what(),
                 "test.csv: has 1 feature columns besides the label, train.csv has 2; the test file needs the "
                 "training file's columns, in the same order");
  }
  test = indexed_set(5);
  test.name = "test.csv";
  train.feature_names = {"height", "weight"};
  test.feature_names = {"weight", "height"};
  try {
    split_and_scale(train, test, SplitOptions{});
    ADD_FAILURE() << "no error";
  } catch (const DataError& error) {
    EXPECT_STREQ(error.what(),
                 "test.csv: feature column 0 is named 'weight', in train.csv it is 'height'; the test file needs "
                 "the training file's columns, in the same order");
  }
}

// A column that varies by less than float32 can scale (denormals: 1 / spread overflows) is a
// constant column: it maps to 0, never to Inf or NaN.
TEST(SplitAndScale, AColumnVaryingBelowFloatRangeScalesToZero) {
  Dataset data = indexed_set(60);
  for (std::size_t row = 0; row < data.rows; ++row) data.features[row * 2 + 1] = row % 2 ? 1e-45f : 0.0f;
  for (const Scaling scaling : {Scaling::minmax, Scaling::standard}) {
    SplitOptions options = unscaled(3);
    options.scaling = scaling;
    const DataSplits splits = split_and_scale(data, options);
    for (const Dataset* split : {&splits.train, &splits.validation, &splits.test})
      for (std::size_t row = 0; row < split->rows; ++row) EXPECT_EQ(split->features[row * 2 + 1], 0.0f);
  }
}

// A validation or test value that the training split's map takes beyond float32 is refused with
// its place, instead of every loss turning NaN.
TEST(SplitAndScale, AValueScaledBeyondFloatRangeIsRefusedWithItsPlace) {
  Dataset train = indexed_set(100), test = indexed_set(10);
  for (Dataset* data : {&train, &test})
    for (std::size_t row = 0; row < data->rows; ++row) data->features[row * 2 + 1] = 1.0f + (row % 2) * 1e-7f;
  test.features[2 * 4 + 1] = 3e38f;  // far outside the training range of a column that varies by 1e-7
  SplitOptions options = unscaled(5);
  options.scaling = Scaling::minmax;
  try {
    split_and_scale(train, test, options);
    FAIL() << "a test value scaled to Inf was accepted";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("indexed: column 1 of test row 4 holds 3e+38"), std::string::npos)
        << error.what();
    EXPECT_NE(std::string(error.what()).find("beyond float32's range"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace mlptune
