// The command line as a user meets it: the version, unknown commands, flags and YAML keys named
// first with the nearest known name, and the hyperparameters' aliases as flags.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "cli/cli_test_support.hpp"
#include "common/closest_name.hpp"
#include "common/count_text.hpp"
#include "mlptune_version.hpp"

namespace {

using namespace mlptune::testing;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(EditDistance, CountsInsertionsDeletionsSubstitutionsAndSwaps) {
  EXPECT_EQ(mlptune::edit_distance("hiden", "hidden"), 1u);
  EXPECT_EQ(mlptune::edit_distance("trian", "train"), 1u);  // a swap of two neighbours
  EXPECT_EQ(mlptune::edit_distance("metric", "metric"), 0u);
  EXPECT_EQ(mlptune::edit_distance("", "abc"), 3u);
  EXPECT_EQ(mlptune::edit_distance("kitten", "sitting"), 3u);
}

TEST(EditDistance, SuggestsOnlyNearNames) {
  const std::vector<std::string> names{"train", "tune", "report"};
  EXPECT_EQ(mlptune::closest_name("tarin", names), "train");
  EXPECT_EQ(mlptune::closest_name("tuen", names), "tune");
  EXPECT_EQ(mlptune::closest_name("x", names), std::nullopt);
  EXPECT_EQ(mlptune::closest_name("plot", names), std::nullopt);
  EXPECT_EQ(mlptune::did_you_mean("reprot", names), " (did you mean 'report'?)");
  EXPECT_EQ(mlptune::did_you_mean("zzzzzz", names), "");
}

TEST(CountText, OneIsSingular) {
  EXPECT_EQ(mlptune::count_text(1, "trial"), "1 trial");
  EXPECT_EQ(mlptune::count_text(0, "trial"), "0 trials");
  EXPECT_EQ(mlptune::count_text(2, "epoch"), "2 epochs");
  EXPECT_EQ(mlptune::count_text(3, "process", "processes"), "3 processes");
}

TEST_F(Cli, VersionFlagAndCommandPrintTheProjectVersion) {
  for (const char* args : {"--version", "version"}) {
    const ProgramRun run = run_mlptune(args);
    EXPECT_EQ(run.status, 0) << args;
    EXPECT_EQ(run.output, std::string("mlptune ") + MLPTUNE_VERSION + "\n") << args;
    EXPECT_TRUE(std::regex_match(run.output, std::regex("mlptune [0-9]+\\.[0-9]+\\.[0-9]+\n"))) << run.output;
  }
}

TEST_F(Cli, MistypedCommandGetsTheNearestCommand) {
  const ProgramRun run = run_mlptune("trian --dataset iris");
  EXPECT_EQ(run.status, 2);
  EXPECT_TRUE(has(run.output, "unknown command 'trian' (did you mean 'train'?)")) << run.output;
  EXPECT_TRUE(has(run.output, "tune")) << run.output;  // the commands are listed
}

TEST_F(Cli, MistypedFlagIsNamedFirstWithTheNearestFlag) {
  // Without the check, CLI11 first complained about "32", the mistyped flag's value.
  for (const char* args : {"train --hiden 32", "train --hiden=32", "train --epochs 1 --hiden 32 --lr oops"}) {
    const ProgramRun run = run_mlptune(args);
    EXPECT_EQ(run.status, 2) << args;
    EXPECT_TRUE(has(run.output, "unknown flag --hiden for mlptune train (did you mean '--hidden'?)")) << run.output;
    EXPECT_FALSE(has(run.output, "oops")) << run.output;
  }
  const ProgramRun tune = run_mlptune("tune study.yaml --concurency 2");
  EXPECT_TRUE(has(tune.output, "unknown flag --concurency for mlptune tune (did you mean '--concurrency'?)"))
      << tune.output;
  const ProgramRun top = run_mlptune("--verison");
  EXPECT_TRUE(has(top.output, "unknown flag --verison for mlptune (did you mean '--version'?)")) << top.output;
}

TEST_F(Cli, FarFlagGetsNoSuggestion) {
  const ProgramRun run = run_mlptune("train --zzzzzz 1");
  EXPECT_EQ(run.status, 2);
  EXPECT_TRUE(has(run.output, "unknown flag --zzzzzz")) << run.output;
  EXPECT_FALSE(has(run.output, "did you mean")) << run.output;
}

TEST_F(Cli, LearningRateFlagIsTheLrSetting) {
  // --learning-rate comes from the setting's alias (a study's learning_rate): the same setting, the
  // same check, and one of the two at most.
  for (const char* flag : {"--lr", "--learning-rate"}) {
    const ProgramRun run = run_mlptune(std::string("train --dataset iris --backend cpu ") + flag + " -0.5");
    EXPECT_EQ(run.status, 2) << flag;
    EXPECT_TRUE(has(run.output, "--lr must be > 0")) << run.output;
  }
  const ProgramRun both = run_mlptune("train --dataset iris --lr 0.1 --learning-rate 0.2");
  EXPECT_EQ(both.status, 2);
  const ProgramRun trains = run_mlptune("train --dataset iris --backend cpu --epochs 1 --quiet --learning-rate 0.05");
  EXPECT_EQ(trains.status, 0) << trains.output;
  EXPECT_TRUE(has(run_mlptune("train --help").output, "--lr,--learning-rate"));
}

TEST_F(Cli, MistypedYamlKeysGetTheNearestKey) {
  const struct {
    const char* yaml;
    const char* expected;
  } cases[] = {
      {"method: random\nmetrc: {name: loss}\nparameters:\n  lr: {value: 0.1}\n",
       "study.yaml:2: metrc: unknown key (did you mean 'metric'?)"},
      {"method: random\nparameters:\n  learnig_rate: {values: [0.1, 0.2]}\n",
       "study.yaml:3: parameters.learnig_rate: unknown hyperparameter (did you mean 'learning_rate'?)"},
      {"method: random\nparameters:\n  lr: {valeus: [0.1, 0.2]}\n",
       "study.yaml:3: parameters.lr.valeus: unknown key (did you mean 'values'?)"},
      {"method: random\nparameters:\n  lr: {value: 0.1}\nmlptune: {datset: iris}\n",
       "study.yaml:4: mlptune.datset: unknown key (did you mean 'dataset'?)"},
  };
  for (const auto& [yaml, expected] : cases) {
    std::ofstream(path("study.yaml")) << yaml;
    const ProgramRun run = run_mlptune("tune " + path("study.yaml") + " --storage " + path("study.db"));
    EXPECT_EQ(run.status, 2) << yaml;
    EXPECT_TRUE(has(run.output, expected)) << run.output;
  }
}

}  // namespace
