// The metric by name, end to end: a bayes study must name it, a study without one says which it
// uses, and the leaderboard, the live view's events and the plots call the values by it. Also the
// leaderboard's width and counts worded for one.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_test_support.hpp"

namespace {

using namespace mlptune::testing;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Eight hyperparameters on iris: their columns together are wider than 100.
constexpr const char* kWideStudy =
    "method: random\n"
    "metric: {name: accuracy, goal: maximize}\n"
    "run_cap: 3\n"
    "parameters:\n"
    "  learning_rate: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0e-1}\n"
    "  batch_size: {values: [16, 32]}\n"
    "  hidden: {values: [\"16\", \"32,16\"]}\n"
    "  activation: {values: [relu, tanh]}\n"
    "  optimizer: {values: [adam, sgd]}\n"
    "  weight_decay: {values: [0.0, 0.0001]}\n"
    "  dropout: {values: [0.0, 0.1]}\n"
    "  epochs: {value: 2}\n"
    "mlptune: {dataset: iris, backend: cpu, concurrency: 1}\n";

class MetricName : public Cli {
 protected:
  ProgramRun tune(const std::string& yaml, const std::string& flags = "") {
    std::ofstream(path("study.yaml")) << yaml;
    return run_mlptune("tune " + path("study.yaml") + " --storage " + path("study.db") + " " + flags);
  }
};

TEST_F(MetricName, BayesWithoutAMetricIsRefusedBeforeAnyFileIsMade) {
  const ProgramRun run = tune("method: bayes\nrun_cap: 2\nparameters:\n  lr: {min: 0.001, max: 0.1}\n");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(has(run.output, "study.yaml:1: metric: method bayes needs the metric it optimizes")) << run.output;
  EXPECT_TRUE(has(run.output, "metric is required for bayes search")) << run.output;
  EXPECT_FALSE(fs::exists(path("study.db")));
  const ProgramRun unnamed =
      tune("method: bayes\nmetric: {goal: maximize}\nrun_cap: 2\nparameters:\n  lr: {min: 0.001, max: 0.1}\n");
  EXPECT_TRUE(has(unnamed.output, "study.yaml:2: metric: method bayes needs")) << unnamed.output;
}

TEST_F(MetricName, AStudyWithoutAMetricSaysWhichItUses) {
  const std::string space = "run_cap: 1\nparameters:\n  epochs: {value: 1}\nmlptune: {dataset: iris, backend: cpu}\n";
  const ProgramRun run = tune("method: random\n" + space);
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_TRUE(
      has(run.output, "metric: validation_loss, minimized (the default: " + path("study.yaml") + " names no metric"))
      << run.output;
  fs::remove(path("study.db"));
  const ProgramRun named = tune("method: random\nmetric: {name: validation_loss}\n" + space);
  EXPECT_EQ(named.status, 0) << named.output;
  EXPECT_FALSE(has(named.output, "the default")) << named.output;
}

TEST_F(MetricName, LeaderboardEventsAndPlotsNameTheMetric) {
  const ProgramRun run = tune(kWideStudy);
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_TRUE(has(run.output, "trial 0 complete: validation_accuracy ")) << run.output;
  EXPECT_TRUE(has(run.output, "(maximize validation_accuracy)")) << run.output;
  EXPECT_TRUE(has(run.output, "rank  trial  validation_accuracy  state")) << run.output;
  EXPECT_TRUE(has(run.output, "best: trial ")) << run.output;
  const ProgramRun report = run_mlptune("report " + path("study.db"));
  EXPECT_TRUE(has(report.output, "rank  trial  validation_accuracy  state")) << report.output;

  ASSERT_EQ(run_mlptune("export " + path("study.db") + " --out " + path("export")).status, 0);
  if (std::system("python3 -c 'import matplotlib, numpy' 2>/dev/null") != 0)
    GTEST_SKIP() << "the plots need python3 with matplotlib and numpy";
  const std::string script = "import sys; sys.path.insert(0, '" + std::string(MLPTUNE_SOURCE_DIR) +
                             "/experiments'); import plot; print(plot.Study(sys.argv[1]).metric)";
  const std::string command = "python3 -c \"" + script + "\" " + path("export") + " > " + path("metric.txt");
  ASSERT_EQ(std::system(command.c_str()), 0);
  EXPECT_EQ(read_file(path("metric.txt")), "validation_accuracy\n") << "the plots' axes are labelled by it";
}

TEST_F(MetricName, LeaderboardFitsOneHundredColumnsAndWrapsTheRestIntoABlock) {
  const ProgramRun run = tune(kWideStudy, "--quiet");
  ASSERT_EQ(run.status, 0) << run.output;
  int blocks = 0;
  bool in_table = false;  // from a block's header to the blank line after it
  for (const std::string& line : lines_of(run.output)) {
    if (line.starts_with("rank  trial  ")) in_table = true, ++blocks;
    if (line.empty()) in_table = false;
    if (in_table) EXPECT_LE(line.size(), 100u) << line;
  }
  EXPECT_EQ(blocks, 2) << "the hyperparameters that do not fit continue under rank and trial:\n" << run.output;
  EXPECT_TRUE(has(run.output, "weight_decay")) << run.output;
}

TEST_F(MetricName, CountsOfOneAreSingular) {
  const ProgramRun study = tune(kWideStudy, "--quiet --concurrency 1");
  EXPECT_TRUE(has(study.output, ", 1 trial at once;")) << study.output;
  const ProgramRun train = run_mlptune("train --dataset iris --backend cpu --epochs 1");
  EXPECT_EQ(train.status, 0) << train.output;
  EXPECT_TRUE(has(train.output, "after 1 epoch in ")) << train.output;
  const ProgramRun rung = tune(
      "method: random\nrun_cap: 2\nparameters:\n  epochs: {value: 1}\n"
      "early_terminate: {type: hyperband, min_iter: 3}\n");
  EXPECT_EQ(rung.status, 2) << rung.output;
  EXPECT_TRUE(has(rung.output, "more than the 1 epoch a trial trains")) << rung.output;
}

}  // namespace
