// Where the bundled datasets are looked for, each case apart from where the test runs.
#include "data/datasets_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "mlptune/error.hpp"

namespace {

namespace fs = std::filesystem;
using mlptune::data::choose_datasets_dir;

class DatasetsDirChoice : public ::testing::Test {
 protected:
  void SetUp() override {
    tree_ = fs::temp_directory_path() / ("mlptune-datasets-dir-" + std::to_string(::getpid()));
    fs::remove_all(tree_);
    fs::create_directories(tree_);
  }
  void TearDown() override { fs::remove_all(tree_); }
  fs::path tree_;
};

TEST_F(DatasetsDirChoice, TheVariableComesFirstThenTheProgramsFolderThenTheSourceTree) {
  EXPECT_EQ(choose_datasets_dir("/data", fs::path("/near"), tree_), fs::path("/data"));
  EXPECT_EQ(choose_datasets_dir("", fs::path("/near"), tree_), fs::path("/near"));
  EXPECT_EQ(choose_datasets_dir(nullptr, fs::path("/near"), tree_), fs::path("/near"));
  fs::create_directories(tree_ / "datasets");
  std::ofstream(tree_ / "datasets" / "SHA256SUMS") << "";
  EXPECT_EQ(choose_datasets_dir(nullptr, std::nullopt, tree_), tree_ / "datasets");
}

TEST_F(DatasetsDirChoice, WithoutAnyItSaysToSetTheVariableAndNamesNoBuildTree) {
  try {
    choose_datasets_dir(nullptr, std::nullopt, tree_);  // a library installed elsewhere, its source tree gone
    FAIL() << "expected a DataError";
  } catch (const mlptune::DataError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("set MLPTUNE_DATA_DIR to the folder that holds them"), std::string::npos) << message;
    EXPECT_EQ(message.find(tree_.string()), std::string::npos) << message;
  }
}

}  // namespace
