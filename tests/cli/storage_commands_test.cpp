// The commands a user of a shared study needs, on SQLite files: `studies` lists a storage's
// studies, `copy` moves studies between storages with every trial, `export --best-weights` writes
// the best trial's model from the database. (tests/cli/postgres_workers_test.cpp runs them on
// PostgreSQL.)
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
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

// report, export, studies and copy read a study without writing beside it: no -wal, no -shm.
TEST_F(StorageCommands, ReadingCommandsLeaveNoFileBesideTheStudy) {
  const auto beside = [&] { return fs::exists(path("lab.db-wal")) || fs::exists(path("lab.db-shm")); };
  ASSERT_FALSE(beside()) << "tune removes them when it ends";
  for (const std::string& command :
       {"report " + path("lab.db") + " --study-name a",
        "export " + path("lab.db") + " --study-name a --out " + path("out"), "studies " + path("lab.db"),
        "copy " + path("lab.db") + " " + path("archive.db")}) {
    const ProgramRun run = run_mlptune(command);
    EXPECT_EQ(run.status, 0) << command << "\n" << run.output;
    EXPECT_FALSE(beside()) << command;
  }
}

// A FIFO would hang the open, and a folder or a device says "disk I/O error": each is refused at once.
TEST_F(StorageCommands, AFifoIsRefusedAtOnceByEveryCommand) {
  ASSERT_EQ(::mkfifo(path("pipe.db").c_str(), 0600), 0);
  for (const std::string& command : {"report " + path("pipe.db"), "export " + path("pipe.db") + " --out " + path("o"),
                                     "studies " + path("pipe.db"), "copy " + path("pipe.db") + " " + path("c.db"),
                                     "tune " + path("a.yaml") + " --storage " + path("pipe.db") + " -q"}) {
    const ProgramRun run = run_mlptune(command);
    EXPECT_EQ(run.status, 2) << command << "\n" << run.output;
    EXPECT_NE(run.output.find("pipe.db: is a FIFO (named pipe), not a study file"), std::string::npos)
        << command << "\n"
        << run.output;
  }
  const ProgramRun folder = run_mlptune("tune " + path("a.yaml") + " --storage " + folder_.string() + " -q");
  EXPECT_NE(folder.output.find("is a folder, not a study file"), std::string::npos) << folder.output;
}

// `script` in a private mount namespace where `target` (a folder or a file) is mounted read-only;
// false when this process may not make one (not root, or no unshare).
bool run_with_read_only(const fs::path& target, const std::string& script, ProgramRun& run) {
  if (::geteuid() != 0 || std::system("unshare -m true 2>/dev/null") != 0) return false;
  const std::string command = "unshare -m sh -c 'mount --bind " + target.string() + " " + target.string() +
                              " && mount -o remount,bind,ro " + target.string() + " && " + script + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return false;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) run.output += buffer.data();
  const int status = pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return true;
}

// On a read-only mount, report reads the study (nothing to create beside it); tune on a study
// file that cannot be written says so and what to do, not "check the disk is not full".
TEST_F(StorageCommands, AReadOnlyStudyIsReportedAndTuneSaysWhatToDo) {
  ProgramRun report;
  if (!run_with_read_only(folder_, std::string(MLPTUNE_BINARY) + " report " + path("lab.db") + " --study-name a",
                          report))
    GTEST_SKIP() << "needs root and unshare for a read-only mount";
  EXPECT_EQ(report.status, 0) << report.output;
  EXPECT_NE(report.output.find("mlptune train"), std::string::npos) << report.output;

  ProgramRun tune;
  ASSERT_TRUE(run_with_read_only(
      path("lab.db"), std::string(MLPTUNE_BINARY) + " tune " + path("a.yaml") + " --storage " + path("lab.db") + " -q",
      tune));
  EXPECT_NE(tune.status, 0) << tune.output;
  EXPECT_NE(tune.output.find("lab.db: the study database is read-only"), std::string::npos) << tune.output;
  EXPECT_NE(tune.output.find("mlptune copy " + path("lab.db") + " NEW.db"), std::string::npos) << tune.output;
  EXPECT_EQ(tune.output.find("the disk is not full"), std::string::npos) << tune.output;
}

}  // namespace
