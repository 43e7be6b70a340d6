// The commands a user of a shared study needs, on SQLite files: `studies` lists a storage's
// studies, `copy` moves studies between storages with every trial, `export --best-weights` writes
// the best trial's model from the database. (tests/cli/postgres_workers_test.cpp runs them on
// PostgreSQL.)
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "cli/cli_test_support.hpp"
#include "mlptune/safetensors.hpp"

namespace {

using namespace mlptune::testing;

const char* kStudy =
    "method: random\n"
    "metric: {name: validation_accuracy, goal: maximize}\n"
    "parameters:\n"
    "  lr: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0e-1}\n"
    "  width: {values: [8, 16]}\n"
    "  epochs: {value: 2}\n"
    "run_cap: 3\n"
    "mlptune: {dataset: iris, backend: cpu, seed: 5}\n";

class StorageCommands : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    std::ofstream(path("a.yaml")) << kStudy;
    std::ofstream(path("b.yaml")) << std::string(kStudy) + "name: second\n";
    for (const char* config : {"a.yaml", "b.yaml"}) {
      const ProgramRun tuned = run_mlptune("tune " + path(config) + " --storage " + path("lab.db") + " -q");
      ASSERT_EQ(tuned.status, 0) << tuned.output;
    }
  }
};

TEST_F(StorageCommands, StudiesListsEveryStudyWithItsCounts) {
  const ProgramRun listed = run_mlptune("studies " + path("lab.db"));
  EXPECT_EQ(listed.status, 0) << listed.output;
  EXPECT_NE(listed.output.find("a                                maximize        3         3        0"),
            std::string::npos)
      << listed.output;
  EXPECT_NE(listed.output.find("second "), std::string::npos) << listed.output;

  const ProgramRun missing = run_mlptune("studies " + path("missing.db"));
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.output.find("no such study file"), std::string::npos) << missing.output;
  EXPECT_FALSE(fs::exists(path("missing.db")));
}

TEST_F(StorageCommands, CopyMovesEveryTrialAndRefusesANameTheDestinationHas) {
  const ProgramRun copied = run_mlptune("copy " + path("lab.db") + " " + path("archive.db") + " --study-name a");
  ASSERT_EQ(copied.status, 0) << copied.output;
  EXPECT_NE(copied.output.find("copied study a (3 trials)"), std::string::npos) << copied.output;
  const ProgramRun original = run_mlptune("report " + path("lab.db") + " --study-name a");
  const ProgramRun copy = run_mlptune("report " + path("archive.db"));
  ASSERT_EQ(copy.status, 0) << copy.output;
  EXPECT_EQ(copy.output, original.output) << "the same leaderboard";

  const ProgramRun again = run_mlptune("copy " + path("lab.db") + " " + path("archive.db"));
  EXPECT_EQ(again.status, 2) << again.output;
  EXPECT_NE(again.output.find("already has a study named 'a'"), std::string::npos) << again.output;
  EXPECT_EQ(run_mlptune("studies " + path("archive.db")).output.find("second"), std::string::npos)
      << "nothing was copied";

  const ProgramRun typo = run_mlptune("copy " + path("lab.db") + " postgressql://me@localhost/db");
  EXPECT_EQ(typo.status, 2) << typo.output;
  EXPECT_NE(typo.output.find("postgresql://"), std::string::npos) << typo.output;
}

TEST_F(StorageCommands, ExportWritesTheBestTrialsWeightsFromTheDatabase) {
  const ProgramRun exported =
      run_mlptune("export " + path("lab.db") + " --study-name a --best-weights " + path("best.safetensors"));
  ASSERT_EQ(exported.status, 0) << exported.output;
  const mlptune::TrialState best = mlptune::load_trial_state(path("best.safetensors"));
  EXPECT_EQ(best.model.input_width, 4);
  EXPECT_TRUE(best.first_moment.empty()) << "a model, without optimizer state";
  const auto metadata = mlptune::read_safetensors(path("best.safetensors")).metadata;
  EXPECT_EQ(metadata.at("study"), "a");
  EXPECT_NE(exported.output.find("(trial " + metadata.at("trial") + ")"), std::string::npos) << exported.output;
  EXPECT_TRUE(metadata.contains(mlptune::kModelDataKey)) << "what predict reads";

  const ProgramRun nothing = run_mlptune("export " + path("lab.db") + " --study-name a");
  EXPECT_EQ(nothing.status, 2);
  EXPECT_NE(nothing.output.find("export needs --out DIR"), std::string::npos) << nothing.output;
}

}  // namespace
