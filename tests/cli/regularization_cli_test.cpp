// dropout and clip_norm end to end: flags, the saved model and its summary, the metrics file, a
// study that searches them, its reproducing lines and its export.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_test_support.hpp"

namespace {

using namespace mlptune::testing;

TEST_F(Cli, DropoutAndClipNormTrainSaveAndSummarise) {
  const ProgramRun run = run_mlptune(kSmallRun + " --dropout 0.2 --clip-norm 1.5 --save " + path("m.safetensors") +
                                     " --metrics " + path("m.json"));
  ASSERT_EQ(run.status, 0) << run.output;
  const nlohmann::json metrics = nlohmann::json::parse(read_file(path("m.json")));
  EXPECT_EQ(metrics["spec"]["train"]["dropout"], 0.2);
  EXPECT_EQ(metrics["spec"]["train"]["clip_norm"], 1.5);
  const ProgramRun summary = run_mlptune("summary " + path("m.safetensors"));
  ASSERT_EQ(summary.status, 0) << summary.output;
  EXPECT_NE(summary.output.find("  dropout          0.2\n"), std::string::npos) << summary.output;
  EXPECT_NE(summary.output.find("  clip_norm        1.5\n"), std::string::npos) << summary.output;
  EXPECT_NE(run_mlptune("train --help").output.find("--dropout"), std::string::npos);

  const ProgramRun bad = run_mlptune(kSmallRun + " --dropout 1");
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("--dropout"), std::string::npos) << bad.output;
}

TEST_F(Cli, AStudySearchesDropoutAndClipNorm) {
  std::ofstream(path("study.yaml")) << "method: grid\n"
                                       "metric: {name: validation_loss, goal: minimize}\n"
                                       "parameters:\n"
                                       "  dropout: {values: [0, 0.2, 0.5]}\n"
                                       "  clip_norm: {values: [0, 1.0]}\n"
                                       "  width: {value: 16}\n"
                                       "  depth: {value: 1}\n"
                                       "  epochs: {value: 2}\n"
                                       "mlptune: {dataset: digits, backend: cpu, seed: 5}\n";
  const std::string db = path("study.db");
  const ProgramRun tune = run_mlptune("tune " + path("study.yaml") + " --storage " + db + " --quiet");
  ASSERT_EQ(tune.status, 0) << tune.output;
  EXPECT_NE(tune.output.find("6 complete"), std::string::npos) << tune.output;
  EXPECT_NE(tune.output.find("--dropout "), std::string::npos) << "the best trial's line:\n" << tune.output;
  ASSERT_EQ(run_mlptune("export " + db + " --out " + path("export")).status, 0);
  const std::string trials = read_file(folder_ / "export" / "trials.csv");
  EXPECT_NE(trials.find("params_dropout"), std::string::npos) << trials;
  EXPECT_NE(trials.find("params_clip_norm"), std::string::npos) << trials;
  const nlohmann::json exported = nlohmann::json::parse(read_file(folder_ / "export" / "trials.json"));
  int with_dropout = 0;
  for (const auto& trial : exported) {
    const std::string command = trial["user_attrs_command"];
    with_dropout += command.find("--dropout 0.5") != std::string::npos;
  }
  EXPECT_EQ(with_dropout, 2) << "two grid points have dropout 0.5, and their lines say so";
}

}  // namespace
