// A user's own files: a separate test file (load_data with test_path) and new rows to predict
// (load_features, scale_features).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "data/data_test_support.hpp"
#include "mlptune/data.hpp"

namespace mlptune {
namespace {

using test::contains;
using test::data_error_message;

// Rows "a,b,label" with a = row + shift and b = 10 * row, so each row names itself.
std::string labelled_rows(int rows, int shift) {
  std::string text = "a,b,label\n";
  for (int row = 0; row < rows; ++row)
    text += std::to_string(row + shift) + "," + std::to_string(10 * row) + "," + std::to_string(row % 2) + "\n";
  return text;
}

TEST(OwnTestFile, IsTheTestSplitInFileOrderScaledByTheTrainingSplit) {
  test::TempFolder folder;
  DataSpec spec;
  spec.path = folder.write("train.csv", labelled_rows(40, 0)).string();
  spec.test_path = folder.write("test.csv", labelled_rows(7, 1000)).string();
  spec.label_column = "label";
  spec.validation_fraction = 0.25;
  const DataSplits splits = load_data(spec);
  EXPECT_EQ(splits.train.rows, 30u);
  EXPECT_EQ(splits.validation.rows, 10u);
  ASSERT_EQ(splits.test.rows, 7u);
  // Standard scaling from the training split: its column a has mean 0 and deviation 1, and the
  // test rows (a = 1000..1006) are mapped by the same affine map, not by one fitted on themselves.
  double sum = 0;
  for (std::size_t row = 0; row < splits.train.rows; ++row) sum += splits.train.features[row * 2];
  EXPECT_NEAR(sum / double(splits.train.rows), 0.0, 1e-5);
  for (std::size_t row = 0; row < 7; ++row) {
    const float expected = std::fma(float(1000 + row), splits.train.column_scale[0], splits.train.column_offset[0]);
    EXPECT_EQ(splits.test.features[row * 2], expected) << "test row " << row;
    EXPECT_EQ(splits.test.labels[row], int(row % 2));
  }
  EXPECT_GT(splits.test.features[0], 10.0f) << "the test rows lie far outside the training rows";
  EXPECT_EQ(splits.test.name, spec.test_path);
}

std::string big_endian(std::initializer_list<std::uint32_t> words) {
  std::string bytes;
  for (const std::uint32_t word : words)
    for (const int shift : {24, 16, 8, 0}) bytes += static_cast<char>((word >> shift) & 0xFF);
  return bytes;
}

// `count` images of 2x2 bytes (image i holds first + i in each pixel) and labels i % 3, as
// Fashion-MNIST ships its train and t10k pairs.
std::string idx_pair(const test::TempFolder& folder, const std::string& name, int count, int first) {
  std::string pixels, labels;
  for (int i = 0; i < count; ++i) {
    pixels += std::string(4, static_cast<char>(first + i));
    labels += static_cast<char>(i % 3);
  }
  const auto images =
      folder.write_gz(name + "-images-idx3-ubyte.gz", big_endian({0x00000803, std::uint32_t(count), 2, 2}) + pixels);
  const auto label_file =
      folder.write_gz(name + "-labels-idx1-ubyte.gz", big_endian({0x00000801, std::uint32_t(count)}) + labels);
  return images.string() + "," + label_file.string();
}

TEST(OwnTestFile, AnIdxPairGivesTheTestSplitOfAnIdxTrainingPair) {
  test::TempFolder folder;
  DataSpec spec;
  spec.path = idx_pair(folder, "train", 30, 0);
  spec.test_path = idx_pair(folder, "t10k", 6, 100);
  spec.scaling = Scaling::minmax;
  spec.validation_fraction = 0.2;
  const DataSplits splits = load_data(spec);
  EXPECT_EQ(splits.train.rows, 24u);
  EXPECT_EQ(splits.validation.rows, 6u);
  ASSERT_EQ(splits.test.rows, 6u);
  // minmax from the training split's bytes (at most 0..29): the test bytes 100.. lie beyond 1.
  EXPECT_EQ(splits.test.raw_bytes.front(), 100);
  EXPECT_GT(splits.test.features.front(), 3.0f);
  EXPECT_EQ(splits.test.labels, (std::vector<std::int32_t>{0, 1, 2, 0, 1, 2}));
}

TEST(OwnTestFile, WithOtherColumnsIsRefusedNamingBothFiles) {
  test::TempFolder folder;
  DataSpec spec;
  spec.path = folder.write("train.csv", labelled_rows(20, 0)).string();
  spec.test_path = folder.write("test.csv", "a,c,label\n1,2,0\n3,4,1\n").string();
  spec.label_column = "label";
  EXPECT_PRED_FORMAT2(contains, data_error_message([&] { load_data(spec); }),
                      spec.test_path + ": feature column 1 is named 'c', in " + spec.path + " it is 'b'");
  spec.test_path = folder.write("narrow.csv", "a,label\n1,0\n3,1\n").string();
  EXPECT_PRED_FORMAT2(contains, data_error_message([&] { load_data(spec); }),
                      spec.test_path + ": has 1 feature columns besides the label, " + spec.path + " has 2");
}

TEST(OwnTestFile, NeedsATrainingFileOfItsOwn) {
  DataSpec spec;
  spec.dataset = "iris";
  spec.test_path = "test.csv";
  EXPECT_THROW(load_data(spec), ConfigError);
}

TEST(NewRows, TakeTheFeaturesWithOrWithoutTheLabelColumn) {
  test::TempFolder folder;
  LoadOptions load;
  load.label_column = "label";
  const Dataset with_label = load_features(folder.write("a.csv", "a,label,b\n1,0,2\n3,1,4\n").string(), 2, load);
  EXPECT_EQ(with_label.features, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(with_label.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(with_label.labels.empty());
  const Dataset without = load_features(folder.write("b.csv", "5,6\n7,8\n").string(), 2, load);
  EXPECT_EQ(without.features, (std::vector<float>{5, 6, 7, 8}));
  const auto path = folder.write("c.csv", "1,2,3,4\n").string();
  EXPECT_EQ(data_error_message([&] { load_features(path, 2, load); }),
            path +
                ": its rows hold 4 values, but the model takes 2 features: give rows of the 2 feature columns it "
                "was trained on, in the same order, optionally with the label column");
}

TEST(NewRows, AreScaledByTheGivenMap) {
  test::TempFolder folder;
  Dataset rows = load_features(folder.write("a.csv", "1,2\n3,4\n").string(), 2, LoadOptions{});
  scale_features(rows, {0.5f, 2.0f}, {1.0f, -1.0f});
  EXPECT_EQ(rows.features, (std::vector<float>{1.5f, 3.0f, 2.5f, 7.0f}));
}

}  // namespace
}  // namespace mlptune
