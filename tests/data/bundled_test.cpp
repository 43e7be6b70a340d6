// The bundled registry and the real data in datasets/: shapes and class counts from datasets/README.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>

#include "data_test_support.hpp"
#include "mlptune/data.hpp"
#include "mlptune/error.hpp"

namespace mlptune {
namespace {

using test::contains;

std::map<int, int> label_counts(std::initializer_list<const Dataset*> splits) {
  std::map<int, int> counts;
  for (const Dataset* split : splits) {
    for (const auto label : split->labels) {
      ++counts[label];
    }
  }
  return counts;
}

std::size_t total_rows(const DataSplits& splits) {
  return splits.train.rows + splits.validation.rows + splits.test.rows;
}

std::filesystem::path sklearn_file(const std::string& name) {
  return datasets_dir() / "sklearn" / name;
}

TEST(BundledRegistry, ListsEverySetWithItsTask) {
  std::vector<std::string> names;
  for (const auto& dataset : bundled_datasets()) {
    names.push_back(dataset.name);
    EXPECT_FALSE(dataset.description.empty()) << dataset.name;
    const bool regression = dataset.name == "diabetes" || dataset.name == "line";
    EXPECT_EQ(dataset.task, regression ? Task::regression : Task::classification) << dataset.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"mnist", "iris", "wine", "breast_cancer", "digits", "diabetes", "line",
                                             "spirals"}));
}

TEST(BundledRegistry, DefaultScalingPerSet) {
  EXPECT_EQ(default_scaling("mnist"), Scaling::minmax);
  EXPECT_EQ(default_scaling("digits"), Scaling::minmax);
  EXPECT_EQ(default_scaling("line"), Scaling::none);
  for (const char* name : {"iris", "wine", "breast_cancer", "diabetes", "spirals"}) {
    EXPECT_EQ(default_scaling(name), Scaling::standard) << name;
  }
}

TEST(BundledRegistry, UnknownNameListsTheKnownOnes) {
  try {
    load_bundled("cifar10", SplitOptions{});
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_PRED_FORMAT2(contains, message, "unknown dataset 'cifar10'");
    EXPECT_PRED_FORMAT2(contains, message, "mnist, iris, wine, breast_cancer, digits, diabetes, line, spirals");
  }
  EXPECT_THROW(default_scaling("cifar10"), ConfigError);
}

// Sets MLPTUNE_DATA_DIR for one scope and restores what was there.
class ScopedDataDir {
 public:
  explicit ScopedDataDir(const char* value) {
    if (const char* old = std::getenv("MLPTUNE_DATA_DIR")) {
      previous_ = old;
    }
    value ? ::setenv("MLPTUNE_DATA_DIR", value, 1) : ::unsetenv("MLPTUNE_DATA_DIR");
  }
  ~ScopedDataDir() { previous_ ? ::setenv("MLPTUNE_DATA_DIR", previous_->c_str(), 1) : ::unsetenv("MLPTUNE_DATA_DIR"); }

 private:
  std::optional<std::string> previous_;
};

TEST(DatasetsDir, FollowsTheEnvironmentVariable) {
  const ScopedDataDir scoped("/somewhere/else");
  EXPECT_EQ(datasets_dir(), std::filesystem::path("/somewhere/else"));
}

TEST(DatasetsDir, FindsTheBundledFolderWithoutTheVariable) {
  const ScopedDataDir scoped(nullptr);
  EXPECT_TRUE(std::filesystem::exists(datasets_dir() / "SHA256SUMS")) << datasets_dir();
  EXPECT_TRUE(std::filesystem::exists(datasets_dir() / "mnist" / "train-images-idx3-ubyte.gz")) << datasets_dir();
}

TEST(BundledData, Iris) {
  const Dataset all = load_csv(sklearn_file("iris.csv"));
  EXPECT_EQ(all.rows, 150u);
  EXPECT_EQ(all.cols, 4u);
  EXPECT_EQ(all.num_classes, 3);
  EXPECT_EQ(label_counts({&all}), (std::map<int, int>{{0, 50}, {1, 50}, {2, 50}}));
  EXPECT_FLOAT_EQ(all.features[0], 5.1f);  // the first data line: 5.1,3.5,1.4,0.2,0
  const DataSplits splits = load_bundled("iris", SplitOptions{});
  EXPECT_EQ(splits.test.rows, 30u);
  EXPECT_EQ(splits.validation.rows, 12u);
  EXPECT_EQ(splits.train.rows, 108u);
  EXPECT_EQ(splits.train.output_width(), 3);
  EXPECT_EQ(label_counts({&splits.train, &splits.validation, &splits.test}), label_counts({&all}));
}

TEST(BundledData, Wine) {
  const Dataset all = load_csv(sklearn_file("wine_data.csv"));
  EXPECT_EQ(all.rows, 178u);
  EXPECT_EQ(all.cols, 13u);
  EXPECT_EQ(label_counts({&all}), (std::map<int, int>{{0, 59}, {1, 71}, {2, 48}}));
  const DataSplits splits = load_bundled("wine", SplitOptions{});
  EXPECT_EQ(total_rows(splits), 178u);
  EXPECT_EQ(splits.test.num_classes, 3);
}

TEST(BundledData, BreastCancer) {
  const Dataset all = load_csv(sklearn_file("breast_cancer.csv"));
  EXPECT_EQ(all.rows, 569u);
  EXPECT_EQ(all.cols, 30u);
  EXPECT_EQ(all.num_classes, 2);
  EXPECT_EQ(label_counts({&all}), (std::map<int, int>{{0, 212}, {1, 357}}));
  EXPECT_EQ(total_rows(load_bundled("breast_cancer", SplitOptions{})), 569u);
}

TEST(BundledData, Digits) {
  const Dataset all = load_csv(sklearn_file("digits.csv.gz"));
  EXPECT_EQ(all.rows, 1797u);
  EXPECT_EQ(all.cols, 64u);
  EXPECT_EQ(all.num_classes, 10);
  EXPECT_EQ(label_counts({&all}),
            (std::map<int, int>{
                {0, 178}, {1, 182}, {2, 177}, {3, 183}, {4, 181}, {5, 182}, {6, 181}, {7, 179}, {8, 174}, {9, 180}}));
  EXPECT_EQ(*std::max_element(all.features.begin(), all.features.end()), 16.0f);
  SplitOptions options;
  options.scaling = default_scaling("digits");
  const DataSplits splits = load_bundled("digits", options);
  EXPECT_EQ(total_rows(splits), 1797u);
  for (const float value : splits.train.features) {
    ASSERT_GE(value, 0.0f);
    ASSERT_LE(value, 1.0f + 1e-6f);
  }
}

TEST(BundledData, DiabetesIsRegressionWithStandardisedTargets) {
  const DataSplits splits = load_bundled("diabetes", SplitOptions{});
  EXPECT_EQ(total_rows(splits), 442u);
  EXPECT_EQ(splits.train.task, Task::regression);
  EXPECT_EQ(splits.train.cols, 10u);
  EXPECT_EQ(splits.train.output_width(), 1);
  EXPECT_GT(splits.train.target_scale, 1.0) << "targets are standardised on the training split";
  double low = 1e9, high = -1e9;
  for (const Dataset* split : {&splits.train, &splits.validation, &splits.test}) {
    for (const float target : split->targets) {
      const double raw = target * split->target_scale + split->target_offset;
      low = std::min(low, raw);
      high = std::max(high, raw);
    }
  }
  // datasets/README.md: the targets range over 25..346. float targets: about 1e-7 relative.
  EXPECT_NEAR(low, 25.0, 1e-3);
  EXPECT_NEAR(high, 346.0, 1e-3);
}

TEST(BundledData, GeneratedSets) {
  SplitOptions options;
  options.scaling = default_scaling("line");
  const DataSplits line = load_bundled("line", options);
  EXPECT_EQ(total_rows(line), LineSpec{}.rows);
  EXPECT_EQ(line.train.task, Task::regression);
  EXPECT_EQ(line.train.column_scale, std::vector<float>{1.0f}) << "the line keeps x unscaled";
  const DataSplits spirals = load_bundled("spirals", SplitOptions{});
  EXPECT_EQ(total_rows(spirals), 1000u);
  EXPECT_EQ(spirals.train.cols, 2u);
  EXPECT_EQ(spirals.train.num_classes, 2);
}

TEST(BundledData, LoadFileDispatchesByExtension) {
  test::TempFolder folder;
  const auto csv = folder.write("table.csv", "a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,10,0\n");
  SplitOptions split;
  split.test_fraction = 0.2;
  split.validation_fraction = 0.0;
  const DataSplits from_csv = load_file(csv.string(), LoadOptions{}, split);
  EXPECT_EQ(from_csv.train.rows, 4u);
  EXPECT_EQ(from_csv.test.rows, 1u);
  const auto digits = sklearn_file("digits.csv.gz");
  EXPECT_EQ(total_rows(load_file(digits.string(), LoadOptions{}, split)), 1797u);
  const auto mnist = datasets_dir() / "mnist";
  const std::string idx_pair =
      (mnist / "t10k-images-idx3-ubyte.gz").string() + "," + (mnist / "t10k-labels-idx1-ubyte.gz").string();
  EXPECT_EQ(total_rows(load_file(idx_pair, LoadOptions{}, split)), 10000u);
  const std::string message = test::data_error_message([&] { load_file("weights.bin", LoadOptions{}, split); });
  EXPECT_PRED_FORMAT2(contains, message, "weights.bin: unknown file type");
}

// MNIST is loaded once for all its tests: 47 MB of pixels.
class Mnist : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto folder = datasets_dir() / "mnist";
    const auto start = std::chrono::steady_clock::now();
    train_ = new Dataset(load_idx(folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz"));
    load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    test_ = new Dataset(load_idx(folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz"));
  }
  static void TearDownTestSuite() {
    delete train_;
    delete test_;
  }
  static inline Dataset* train_ = nullptr;
  static inline Dataset* test_ = nullptr;
  static inline double load_seconds_ = 0;
};

TEST_F(Mnist, ShapesAndLabelCountsMatchTheReadme) {
  RecordProperty("train_load_seconds", std::to_string(load_seconds_));
  EXPECT_EQ(train_->rows, 60000u);
  EXPECT_EQ(test_->rows, 10000u);
  EXPECT_EQ(train_->cols, 784u);
  EXPECT_EQ(train_->num_classes, 10);
  EXPECT_EQ(train_->raw_bytes.size(), 60000u * 784u);
  EXPECT_EQ(label_counts({train_}), (std::map<int, int>{{0, 5923},
                                                        {1, 6742},
                                                        {2, 5958},
                                                        {3, 6131},
                                                        {4, 5842},
                                                        {5, 5421},
                                                        {6, 5918},
                                                        {7, 6265},
                                                        {8, 5851},
                                                        {9, 5949}}));
  EXPECT_EQ(
      label_counts({test_}),
      (std::map<int, int>{
          {0, 980}, {1, 1135}, {2, 1032}, {3, 1010}, {4, 982}, {5, 892}, {6, 958}, {7, 1028}, {8, 974}, {9, 1009}}));
}

TEST_F(Mnist, SplitsUseTheOwnTestSetAndKeepTheFmaInvariant) {
  for (const Scaling scaling : {Scaling::minmax, Scaling::standard}) {
    SplitOptions options;
    options.scaling = scaling;
    const DataSplits splits = split_and_scale(*train_, *test_, options);
    EXPECT_EQ(splits.train.rows, 54000u);
    EXPECT_EQ(splits.validation.rows, 6000u);
    EXPECT_EQ(splits.test.rows, 10000u);
    EXPECT_EQ(splits.test.raw_bytes, test_->raw_bytes) << "the test split is MNIST's own, in order";
    for (const Dataset* split : {&splits.train, &splits.validation, &splits.test}) {
      ASSERT_EQ(split->raw_bytes.size(), split->rows * 784u);
      std::size_t mismatches = 0;
      for (std::size_t index = 0; index < split->raw_bytes.size(); ++index) {
        const std::size_t col = index % 784;
        mismatches += split->features[index] !=
                      std::fma(float(split->raw_bytes[index]), split->column_scale[col], split->column_offset[col]);
      }
      EXPECT_EQ(mismatches, 0u);
    }
  }
}

TEST_F(Mnist, LoadBundledMatchesTheDirectLoad) {
  SplitOptions options;
  options.scaling = default_scaling("mnist");
  options.validation_fraction = 0.0;
  const DataSplits splits = load_bundled("mnist", options);
  EXPECT_EQ(splits.train.rows, 60000u);
  EXPECT_EQ(splits.test.rows, 10000u);
  EXPECT_EQ(splits.train.name, "mnist");
  // minmax fitted on train: pixel 0 -> 0 and 255 -> 1 in columns that reach both.
  const float* first_image = splits.test.features.data();
  for (std::size_t col = 0; col < 784; ++col) {
    ASSERT_GE(first_image[col], 0.0f);
    ASSERT_LE(first_image[col], 1.0f + 1e-6f);
  }
}

}  // namespace
}  // namespace mlptune
