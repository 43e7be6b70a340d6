// The mlptune program end to end: exit statuses, error messages, files written, per command.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli/cli_test_support.hpp"

namespace {

using namespace mlptune::testing;

TEST_F(Cli, EveryCommandHasHelp) {
  for (const char* command : {"", "train", "tune", "report", "export", "summary", "devices", "predict"}) {
    const ProgramRun run = run_mlptune(std::string(command) + " --help");
    EXPECT_EQ(run.status, 0) << command;
    EXPECT_NE(run.output.find("Usage"), std::string::npos) << command;
  }
}

TEST_F(Cli, NoCommandIsAnError) {
  const ProgramRun run = run_mlptune("");
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.output.find("subcommand"), std::string::npos) << run.output;
}

TEST_F(Cli, UnknownFlagIsNamed) {
  const ProgramRun run = run_mlptune("train --learning-rat 0.1");
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.output.find("--learning-rat "), std::string::npos) << run.output;
}

TEST_F(Cli, NegativeLearningRateIsRejected) {
  const ProgramRun run = run_mlptune("train --dataset digits --backend cpu --lr -0.1");
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.output.find("--lr must be > 0"), std::string::npos) << run.output;
}

TEST_F(Cli, ZeroBatchSizeIsRejected) {
  const ProgramRun run = run_mlptune(kSmallRun + " --batch-size 0");
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.output.find("--batch-size: must be a whole number in [1, 2147483647] (got 0)"), std::string::npos)
      << run.output;
}

TEST_F(Cli, ZeroHiddenWidthIsRejected) {
  const ProgramRun run = run_mlptune(kSmallRun + " --hidden 16,0");
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.output.find("--hidden"), std::string::npos) << run.output;
}

TEST_F(Cli, UnknownOptimizerListsTheChoices) {
  const ProgramRun run = run_mlptune(kSmallRun + " --optimizer adagrad");
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.output.find("adagrad"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("adamw"), std::string::npos) << run.output;
}

TEST_F(Cli, UnknownDatasetListsTheBundledOnes) {
  const ProgramRun run = run_mlptune("train --dataset cifar10 --backend cpu");
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.output.find("mnist"), std::string::npos) << run.output;
}

TEST_F(Cli, MissingDataFileIsNamed) {
  const ProgramRun run = run_mlptune("train --data " + path("nowhere.csv") + " --backend cpu");
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.output.find("nowhere.csv"), std::string::npos) << run.output;
}

TEST_F(Cli, RaggedCsvIsReportedWithItsLine) {
  std::ofstream(path("ragged.csv")) << "a,b,label\n1,2,0\n3,4\n5,6,1\n";
  const ProgramRun run = run_mlptune("train --data " + path("ragged.csv") + " --backend cpu");
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.output.find("ragged.csv"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("line 3"), std::string::npos) << run.output;
}

TEST_F(Cli, TrainWritesMetricsCsvWithOneRowPerEpoch) {
  const ProgramRun run = run_mlptune(kSmallRun + " --metrics " + path("metrics.csv"));
  ASSERT_EQ(run.status, 0) << run.output;
  const std::string csv = read_file(path("metrics.csv"));
  EXPECT_EQ(csv.rfind("epoch,step,train_loss,validation_loss,validation_accuracy", 0), 0u) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3) << csv;  // header + 2 epochs
  EXPECT_NE(csv.find(",completed,"), std::string::npos) << csv;
}

TEST_F(Cli, TrainWritesMetricsJsonWithSpecAndTestResult) {
  const ProgramRun run = run_mlptune(kSmallRun + " --metrics " + path("metrics.json"));
  ASSERT_EQ(run.status, 0) << run.output;
  const auto json = nlohmann::json::parse(read_file(path("metrics.json")));
  EXPECT_EQ(json["spec"]["model"]["parameter_count"], 64 * 16 + 16 + 16 * 10 + 10);
  EXPECT_EQ(json["epochs"].size(), 2u);
  EXPECT_GT(json["result"]["test"]["accuracy"].get<double>(), 0.5);
}

TEST_F(Cli, DivergenceIsAResultWithItsOwnStatus) {
  const ProgramRun run = run_mlptune(
      "train --dataset line --hidden 8 --loss mse --optimizer sgd --lr 1e6 --epochs 3 "
      "--backend cpu --quiet --metrics " +
      path("diverged.csv"));
  EXPECT_EQ(run.status, 3) << run.output;
  EXPECT_NE(run.output.find("diverged at epoch 1, step"), std::string::npos) << run.output;
  EXPECT_NE(read_file(path("diverged.csv")).find(",diverged,"), std::string::npos);
}

TEST_F(Cli, AnUpdateThatOverflowsTheParametersIsDivergenceAndIsNotSaved) {
  // lr 1e300: the loss before the first update is finite, the update itself overflows.
  const ProgramRun run =
      run_mlptune("train --dataset iris --lr 1e300 --epochs 1 --backend cpu --quiet --save " + path("nan.safetensors"));
  EXPECT_EQ(run.status, 3) << run.output;
  EXPECT_NE(run.output.find("diverged at epoch 1"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(path("nan.safetensors")));
}

TEST_F(Cli, AModelTooLargeToTrainIsRejected) {
  const ProgramRun run = run_mlptune("train --dataset iris --depth 2 --width 2000000000 --backend cpu");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("parameters; at most"), std::string::npos) << run.output;
}

TEST_F(Cli, ALabelInTheMillionsIsNotAClass) {
  std::ofstream(path("labels.csv")) << "a,label\n1,0\n2,2000000000\n3,1\n";
  const ProgramRun run = run_mlptune("train --data " + path("labels.csv") + " --backend cpu");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("line 3"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("--task regression"), std::string::npos) << run.output;
}

TEST_F(Cli, ANpyHeaderClaimingAHugeShapeIsRejected) {
  // Within the row and column limits, but 2^32 - 1 rows of 2^31 - 2 doubles overflow a byte count.
  const std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967295, 2147483646), }";
  std::string padded = header + std::string(118 - header.size(), ' ') + "\n";  // 10 + 118 = 128 bytes
  std::ofstream file(path("huge.npy"), std::ios::binary);
  file << "\x93NUMPY" << char(1) << char(0) << char(padded.size() & 0xff) << char(padded.size() >> 8) << padded;
  file.close();
  const ProgramRun run = run_mlptune("train --data " + path("huge.npy") + " --backend cpu");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("huge.npy"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("needs more bytes"), std::string::npos) << run.output;
}

TEST_F(Cli, SavedModelReloadsAndSummarises) {
  ASSERT_EQ(run_mlptune(kSmallRun + " --save " + path("model.safetensors")).status, 0);
  const ProgramRun summary = run_mlptune("summary " + path("model.safetensors"));
  ASSERT_EQ(summary.status, 0) << summary.output;
  EXPECT_NE(summary.output.find("64 -> 16"), std::string::npos) << summary.output;
  EXPECT_NE(summary.output.find("1,210"), std::string::npos) << summary.output;  // 64·16 + 16 + 16·10 + 10
  // What predict needs: digits' 64 pixel columns and its 10 classes.
  EXPECT_NE(summary.output.find("Data (what `mlptune predict` reads)"), std::string::npos) << summary.output;
  EXPECT_NE(summary.output.find("features         64 columns"), std::string::npos) << summary.output;
  EXPECT_NE(summary.output.find("classes          10"), std::string::npos) << summary.output;

  const ProgramRun resumed = run_mlptune(kSmallRun + " --init-from " + path("model.safetensors"));
  EXPECT_EQ(resumed.status, 0) << resumed.output;
  const ProgramRun mismatch = run_mlptune(
      "train --dataset digits --hidden 32 --epochs 1 --backend cpu --quiet --init-from " + path("model.safetensors"));
  EXPECT_EQ(mismatch.status, 2);
  EXPECT_NE(mismatch.output.find("--init-from"), std::string::npos) << mismatch.output;
}

TEST_F(Cli, SummaryCountsParametersPerLayer) {
  const ProgramRun run = run_mlptune("summary --dataset iris --hidden 10,20");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("10 -> 20, relu                      200         20          220"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("learning rate"), std::string::npos);
}

TEST_F(Cli, DevicesAnswersWithOrWithoutAGpu) {
  const ProgramRun run = run_mlptune("devices");
  EXPECT_EQ(run.status, 0);
  EXPECT_TRUE(run.output.find("no CUDA device") != std::string::npos || run.output.find("cuda:0") != std::string::npos)
      << run.output;
}

TEST_F(Cli, TuneReportAndExport) {
  std::ofstream(path("study.yaml")) << "method: random\n"
                                       "metric: {name: validation_loss, goal: minimize}\n"
                                       "parameters:\n"
                                       "  lr: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0e-1}\n"
                                       "  width: {values: [8, 16]}\n"
                                       "  depth: {value: 1}\n"
                                       "  epochs: {value: 2}\n"
                                       "run_cap: 4\n"
                                       "mlptune: {dataset: iris, backend: cpu, seed: 3}\n";
  const std::string db = path("study.db");
  const ProgramRun tune = run_mlptune("tune " + path("study.yaml") + " --storage " + db + " --quiet");
  ASSERT_EQ(tune.status, 0) << tune.output;
  EXPECT_NE(tune.output.find("4 complete"), std::string::npos) << tune.output;
  EXPECT_NE(tune.output.find("mlptune train --dataset iris"), std::string::npos) << tune.output;

  const ProgramRun again =
      run_mlptune("tune " + path("study.yaml") + " --storage " + db + " --quiet");  // resumes: nothing left
  EXPECT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("4 complete"), std::string::npos) << again.output;

  const ProgramRun report = run_mlptune("report " + db);
  EXPECT_EQ(report.status, 0) << report.output;
  EXPECT_NE(report.output.find("best: trial"), std::string::npos) << report.output;

  ASSERT_EQ(run_mlptune("export " + db + " --out " + path("export")).status, 0);
  for (const char* name : {"trials.csv", "trials.json", "intermediate.csv", "journal.log"})
    EXPECT_TRUE(fs::exists(folder_ / "export" / name)) << name;
}

TEST_F(Cli, ReportOfAMissingStudyFileSaysSo) {
  const ProgramRun run = run_mlptune("report " + path("missing.db"));
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.output.find("no such study file"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(path("missing.db")));
}

TEST_F(Cli, BadStudyConfigNamesTheKeyAndLine) {
  std::ofstream(path("bad.yaml")) << "method: random\n"
                                     "run_cap: 2\n"
                                     "parameters:\n"
                                     "  lr: {min: 0.1, max: 0.01}\n";
  const ProgramRun run = run_mlptune("tune " + path("bad.yaml"));
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.output.find("bad.yaml:4"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("lr"), std::string::npos) << run.output;
}

}  // namespace
