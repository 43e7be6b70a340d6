// A user's own files end to end: a separate test file, PyTorch-style weights to start from, the
// file's order without shuffling, a regression study on a CSV, and `mlptune predict`; checked
// against a NumPy MLP (tests/cli/numpy_mlp.py) that reads and writes safetensors itself.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "cli/cli_test_support.hpp"

namespace {

using namespace mlptune::testing;

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

// Three features and a class 0..2 in the column "species" between them; `shift` gives other rows.
std::string class_rows(int rows, int shift) {
  std::string text = "length,width,species,depth\n";
  for (int row = 0; row < rows; ++row) {
    const double a = std::sin(0.7 * (row + shift)), b = 2 * std::cos(1.3 * (row + shift));
    const double c = 0.1 * ((row * 7 + shift) % 11);
    const int label = a + b > 0.5 ? 2 : a - b > 0 ? 1 : 0;
    text += number(a) + "," + number(b) + "," + std::to_string(label) + "," + number(c) + "\n";
  }
  return text;
}

// y = 3 x1 - 2 x2 + 5 plus a deterministic wobble, so the order of SGD steps shows in the weights.
std::string regression_rows(int rows, int shift) {
  std::string text = "x1,x2,y\n";
  for (int row = 0; row < rows; ++row) {
    const double x1 = std::sin(0.9 * (row + shift)), x2 = std::cos(0.4 * (row + shift) * (row + shift));
    const double y = 3 * x1 - 2 * x2 + 5 + 0.3 * std::sin(5.1 * (row + shift));
    text += number(x1) + "," + number(x2) + "," + number(y) + "\n";
  }
  return text;
}

class DataFiles : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    if (std::system("python3 -c 'import numpy, safetensors' > /dev/null 2>&1") != 0)
      GTEST_SKIP() << "python3 with numpy and safetensors is not installed (scripts/install-deps installs them), "
                      "so there is no outside reference to compare with";
  }

  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name)) << text;
    return path(name);
  }

  // Runs tests/cli/numpy_mlp.py; its output says what it compared.
  ProgramRun numpy_mlp(const std::string& args) const {
    const std::string command =
        "python3 " + std::string(MLPTUNE_SOURCE_DIR) + "/tests/cli/numpy_mlp.py " + args + " 2>&1";
    ProgramRun run;
    FILE* pipe = popen(command.c_str(), "r");
    char buffer[4096];
    while (pipe != nullptr && std::fgets(buffer, sizeof buffer, pipe) != nullptr) run.output += buffer;
    const int status = pipe != nullptr ? pclose(pipe) : -1;
    run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }
};

// The test split is the test file, whole and in order, and training starts from the PyTorch-style
// weights: with a learning rate too small to move them, the test loss is NumPy's for those weights.
TEST_F(DataFiles, TheTestFileIsTheTestSplitAndTrainingStartsFromPlainSafetensors) {
  const std::string train = write("train.csv", class_rows(60, 0)), test = write("test.csv", class_rows(25, 500));
  ASSERT_EQ(numpy_mlp("weights " + path("start.safetensors") + " float32 3 3 5 3").status, 0);
  const ProgramRun run =
      run_mlptune("train --data " + train + " --test-data " + test +
                  " --label-column species --hidden 5 --activation tanh --init-from " + path("start.safetensors") +
                  " --scaling none --optimizer sgd --lr 1e-30 --epochs 1 --batch-size 16 "
                  "--backend cpu --metrics " +
                  path("metrics.json"));
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("54 train, 6 validation, 25 test rows"), std::string::npos) << run.output;
  const ProgramRun check =
      numpy_mlp("test-loss " + path("start.safetensors") + " " + test + " species tanh " + path("metrics.json"));
  EXPECT_EQ(check.status, 0) << check.output;
}

// --no-shuffle with no held-out rows trains on the file's rows in the file's order: per-row SGD
// from float16 weights ends where NumPy's SGD over the rows in file order ends.
TEST_F(DataFiles, NoShuffleTrainsInTheOrderOfTheFileFromHalfPrecisionWeights) {
  const std::string rows = write("rows.csv", regression_rows(40, 0));
  ASSERT_EQ(numpy_mlp("weights " + path("start.safetensors") + " float16 5 2 1").status, 0);
  const ProgramRun run =
      run_mlptune("train --data " + rows + " --task regression --hidden \"\" --init-from " + path("start.safetensors") +
                  " --scaling none --optimizer sgd --lr 0.05 --batch-size 1 --epochs 2 --no-shuffle "
                  "--validation-fraction 0 --test-fraction 0 --backend cpu --quiet --save " +
                  path("trained.safetensors"));
  ASSERT_EQ(run.status, 0) << run.output;
  const ProgramRun check =
      numpy_mlp("sgd " + path("start.safetensors") + " " + rows + " 0.05 2 " + path("trained.safetensors"));
  EXPECT_EQ(check.status, 0) << check.output;
}

TEST_F(DataFiles, WeightsOfOtherShapesAreRefusedListingExpectedAndFound) {
  const std::string train = write("train.csv", class_rows(30, 0));
  ASSERT_EQ(numpy_mlp("weights " + path("start.safetensors") + " float64 3 3 8 3").status, 0);
  const ProgramRun run = run_mlptune("train --data " + train + " --label-column species --hidden 5 --init-from " +
                                     path("start.safetensors") + " --epochs 1 --backend cpu --quiet");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("expected layers.0.weight [5, 3], layers.0.bias [5], layers.1.weight [3, 5], "
                            "layers.1.bias [3]"),
            std::string::npos)
      << run.output;
  EXPECT_NE(
      run.output.find("found layers.0.bias [8], layers.0.weight [8, 3], layers.1.bias [3], layers.1.weight [3, 8]"),
      std::string::npos)
      << run.output;
  EXPECT_EQ(run.output.find("save_trial_state"), std::string::npos) << run.output;
}

TEST_F(DataFiles, ATestFileWithOtherColumnsIsRefused) {
  const std::string train = write("train.csv", class_rows(30, 0));
  const std::string test = write("test.csv", "length,width,species\n0.1,0.2,1\n0.3,0.4,0\n");
  const ProgramRun run = run_mlptune("train --data " + train + " --test-data " + test +
                                     " --label-column species --epochs 1 --backend cpu --quiet");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find(test + ": has 2 feature columns besides the label, " + train + " has 3"), std::string::npos)
      << run.output;
  const ProgramRun both = run_mlptune("train --data " + train + " --test-data " + test +
                                      " --test-fraction 0.3 --epochs 1 --backend cpu --quiet");
  EXPECT_EQ(both.status, 2) << both.output;
  EXPECT_NE(both.output.find("--test-fraction"), std::string::npos) << both.output;
}

// A saved classifier applied to new rows (features only, in a file with a header) gives NumPy's
// classes and probabilities with the standard scaling of its training split.
TEST_F(DataFiles, PredictWritesTheClassesAndProbabilitiesOfTheSavedModel) {
  const std::string train = write("train.csv", class_rows(60, 0)), test = write("test.csv", class_rows(20, 300));
  std::string fresh = "length,width,depth\n";
  for (int row = 0; row < 12; ++row)
    fresh += number(std::sin(row * 1.7)) + "," + number(1.5 * std::cos(row)) + "," + number(0.05 * row) + "\n";
  write("new.csv", fresh);
  const ProgramRun trained = run_mlptune("train --data " + train + " --test-data " + test +
                                         " --label-column species --hidden 6 --lr 0.05 --epochs 3 "
                                         "--validation-fraction 0 --backend cpu --quiet --save " +
                                         path("model.safetensors"));
  ASSERT_EQ(trained.status, 0) << trained.output;
  const ProgramRun run = run_mlptune("predict " + path("model.safetensors") + " --data " + path("new.csv") + " --out " +
                                     path("predictions.csv") + " --backend cpu");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("wrote 12 predictions to " + path("predictions.csv")), std::string::npos) << run.output;
  const ProgramRun check = numpy_mlp("predict " + path("model.safetensors") + " " + train + " species " +
                                     path("new.csv") + " relu classification " + path("predictions.csv"));
  EXPECT_EQ(check.status, 0) << check.output;

  // Columns named in another order are refused, naming the column.
  write("swapped.csv", "width,length,depth\n0.1,0.2,0.3\n");
  const ProgramRun swapped = run_mlptune("predict " + path("model.safetensors") + " --data " + path("swapped.csv") +
                                         " --out " + path("swapped-predictions.csv") + " --backend cpu");
  EXPECT_EQ(swapped.status, 2) << swapped.output;
  EXPECT_NE(swapped.output.find("feature column 0 is named 'width'"), std::string::npos) << swapped.output;
  EXPECT_FALSE(fs::exists(path("swapped-predictions.csv")));
}

// A regression model's predictions are in the units of the training file's targets; rows that
// still hold the label column are read without it.
TEST_F(DataFiles, PredictWritesRegressionValuesInTheUnitsOfTheFile) {
  const std::string rows = write("rows.csv", regression_rows(80, 0));
  write("new.csv", regression_rows(15, 1000));
  const ProgramRun trained = run_mlptune("train --data " + rows +
                                         " --task regression --label-column y --hidden 4 --activation tanh "
                                         "--epochs 3 --validation-fraction 0 --test-fraction 0 --backend cpu "
                                         "--quiet --save " +
                                         path("model.safetensors"));
  ASSERT_EQ(trained.status, 0) << trained.output;
  const ProgramRun run = run_mlptune("predict " + path("model.safetensors") + " --data " + path("new.csv") + " --out " +
                                     path("predictions.csv") + " --backend cpu");
  ASSERT_EQ(run.status, 0) << run.output;
  const ProgramRun check = numpy_mlp("predict " + path("model.safetensors") + " " + rows + " y " + path("new.csv") +
                                     " tanh regression " + path("predictions.csv"));
  EXPECT_EQ(check.status, 0) << check.output;
}

TEST_F(DataFiles, PredictRefusesRowsOfAnotherWidthAndModelsWithoutTheirScaling) {
  const std::string rows = write("rows.csv", regression_rows(30, 0));
  const ProgramRun trained = run_mlptune("train --data " + rows +
                                         " --task regression --hidden 4 --epochs 1 "
                                         "--backend cpu --quiet --save " +
                                         path("model.safetensors"));
  ASSERT_EQ(trained.status, 0) << trained.output;
  write("wide.csv", "1,2,3,4\n5,6,7,8\n");
  const ProgramRun wide = run_mlptune("predict " + path("model.safetensors") + " --data " + path("wide.csv") +
                                      " --out " + path("out.csv") + " --backend cpu");
  EXPECT_EQ(wide.status, 2) << wide.output;
  EXPECT_NE(wide.output.find(path("wide.csv") + ": its rows hold 4 values, but the model takes 2 features"),
            std::string::npos)
      << wide.output;
  EXPECT_FALSE(fs::exists(path("out.csv")));

  const ProgramRun missing_folder = run_mlptune("predict " + path("model.safetensors") + " --data " + rows + " --out " +
                                                path("no-such-folder/out.csv") + " --backend cpu");
  EXPECT_EQ(missing_folder.status, 2) << missing_folder.output;
  EXPECT_NE(missing_folder.output.find("--out"), std::string::npos) << missing_folder.output;

  // A model saved before mlptune kept the scaling (or by another program) is refused with the fix.
  ASSERT_EQ(numpy_mlp("weights " + path("plain.safetensors") + " float32 1 2 4 1").status, 0);
  const ProgramRun plain = run_mlptune("predict " + path("plain.safetensors") + " --data " + rows + " --out " +
                                       path("out.csv") + " --backend cpu");
  EXPECT_EQ(plain.status, 2) << plain.output;
  EXPECT_NE(plain.output.find("mlptune.model"), std::string::npos) << plain.output;
  ASSERT_EQ(numpy_mlp("strip-data " + path("model.safetensors") + " " + path("old.safetensors")).status, 0);
  const ProgramRun old = run_mlptune("predict " + path("old.safetensors") + " --data " + rows + " --out " +
                                     path("out.csv") + " --backend cpu");
  EXPECT_EQ(old.status, 2) << old.output;
  EXPECT_NE(old.output.find("holds no 'mlptune.data' metadata entry with the scaling of the data it was trained on"),
            std::string::npos)
      << old.output;
  EXPECT_NE(old.output.find("train it again with `mlptune train --save`"), std::string::npos) << old.output;
  EXPECT_FALSE(fs::exists(path("out.csv")));
}

// A study whose mlptune section says task: regression reads the CSV's targets as values, tunes on
// RMSE (which a classification set refuses), and ends with a model that predicts in the file's units.
TEST_F(DataFiles, ARegressionStudyOnACsvFileRunsEndToEnd) {
  const std::string rows = write("rows.csv", regression_rows(120, 0));
  const std::string study =
      write("study.yaml", R"(method: random
metric: {name: validation_rmse, goal: minimize}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0e-1}
  hidden: {value: "8"}
  epochs: {value: 3}
run_cap: 3
mlptune: {data: )" + rows +
                              R"(, task: regression, label_column: y, backend: cpu, seed: 1, concurrency: 1})"
                              "\n");
  const ProgramRun run = run_mlptune("tune " + study + " --quiet");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("--task regression"), std::string::npos) << run.output;
  const ProgramRun predicted = run_mlptune("predict " + path("study.db.best.safetensors") + " --data " + rows +
                                           " --out " + path("predictions.csv") + " --backend cpu");
  ASSERT_EQ(predicted.status, 0) << predicted.output;
  // 120 values near the targets (y spans about 0 to 10): the best of three short trials is no
  // oracle, but its values are in the file's units, not standardised ones.
  std::ifstream in(path("predictions.csv"));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "value");
  double sum = 0;
  int count = 0;
  while (std::getline(in, line)) sum += std::stod(line), ++count;
  EXPECT_EQ(count, 120);
  EXPECT_NEAR(sum / count, 5.0, 2.0) << "the mean prediction, in the units of y";

  // Without the task the same file is read as classes, and its real-valued targets are refused.
  const std::string classes = write("classes.yaml", R"(method: random
parameters:
  epochs: {value: 1}
run_cap: 1
mlptune: {data: )" + rows + R"(, label_column: y, backend: cpu, storage: )" +
                                                        path("classes.db") + "}\n");
  const ProgramRun as_classes = run_mlptune("tune " + classes + " --quiet");
  EXPECT_EQ(as_classes.status, 2) << as_classes.output;
  EXPECT_NE(as_classes.output.find("is not a non-negative integer"), std::string::npos) << as_classes.output;

  const std::string bundled = write("bundled.yaml", R"(method: random
parameters:
  epochs: {value: 1}
run_cap: 1
mlptune: {dataset: iris, task: regression}
)");
  const ProgramRun refused = run_mlptune("tune " + bundled + " --quiet");
  EXPECT_EQ(refused.status, 2) << refused.output;
  EXPECT_NE(refused.output.find("mlptune.task"), std::string::npos) << refused.output;
}

// tune --test-data is the study's mlptune.test_data: the best trial's line carries it, and a rerun
// with another test file is a changed study.
TEST_F(DataFiles, TuneTestDataBecomesPartOfTheStudysData) {
  const std::string rows = write("rows.csv", regression_rows(60, 0));
  write("test.csv", regression_rows(20, 500));
  write("other.csv", regression_rows(30, 900));
  const std::string study = write("study.yaml", R"(method: random
metric: {name: validation_rmse, goal: minimize}
parameters:
  epochs: {value: 1}
run_cap: 1
mlptune: {data: )" + rows +
                                                    R"(, task: regression, label_column: y, backend: cpu})"
                                                    "\n");
  const ProgramRun run = run_mlptune("tune " + study + " --quiet --test-data " + path("test.csv"));
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("--test-data " + path("test.csv")), std::string::npos) << run.output;
  const ProgramRun other = run_mlptune("tune " + study + " --quiet --test-data " + path("other.csv"));
  EXPECT_EQ(other.status, 2) << other.output;
  EXPECT_NE(other.output.find("test_data " + path("test.csv") + ", task regression -> data " + rows +
                              ", label_column y, test_data " + path("other.csv")),
            std::string::npos)
      << other.output;
  const std::string bundled = write("bundled.yaml",
                                    "method: random\nparameters:\n  epochs: {value: 1}\nrun_cap: 1\n"
                                    "mlptune: {dataset: iris, backend: cpu}\n");
  const ProgramRun refused = run_mlptune("tune " + bundled + " --quiet --test-data " + path("test.csv"));
  EXPECT_EQ(refused.status, 2) << refused.output;
  EXPECT_NE(refused.output.find("--test-data goes with a training file of your own (mlptune.data in " + bundled),
            std::string::npos)
      << refused.output;
  EXPECT_FALSE(fs::exists(path("bundled.db"))) << "a refused configuration creates no study file";
}

}  // namespace
