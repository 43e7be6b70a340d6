// The study's files as the program treats them: read-only commands that create and change
// nothing and say what a wrong file is, configurations checked before a database is made, and a
// killed `mlptune tune` continued from its checkpoints.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli/cli_test_support.hpp"
#include "mlptune/tune/storage.hpp"

namespace {

using namespace mlptune::testing;

const char* kStudy =
    "method: random\n"
    "metric: {name: validation_loss, goal: minimize}\n"
    "parameters:\n"
    "  lr: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0e-1}\n"
    "  width: {values: [8, 16]}\n"
    "  depth: {value: 1}\n"
    "  epochs: {value: 2}\n"
    "run_cap: 2\n"
    "mlptune: {dataset: iris, backend: cpu, seed: 3}\n";

TEST_F(Cli, ReportAndExportChangeNoFileThatIsNotAStudy) {
  { std::ofstream(path("empty.db")); }
  { std::ofstream(path("notes.txt")) << std::string(3000, 'n'); }
  fs::create_directories(path("folder.db"));
  for (const std::string command : {"report", "export"}) {
    const std::string out = command == "export" ? " --out " + path("out") : "";
    const ProgramRun empty = run_mlptune(command + " " + path("empty.db") + out);
    EXPECT_EQ(empty.status, 2) << empty.output;
    EXPECT_NE(empty.output.find("empty.db: is empty, not an mlptune study database"), std::string::npos)
        << empty.output;
    EXPECT_EQ(fs::file_size(path("empty.db")), 0u) << "nothing written into it";

    const ProgramRun text = run_mlptune(command + " " + path("notes.txt") + out);
    EXPECT_EQ(text.status, 2) << text.output;
    EXPECT_NE(text.output.find("notes.txt: is not a study database (not an SQLite file)"), std::string::npos)
        << text.output;
    EXPECT_EQ(text.output.find("BEGIN"), std::string::npos) << "no SQL in the message:\n" << text.output;

    const ProgramRun folder = run_mlptune(command + " " + path("folder.db") + out);
    EXPECT_EQ(folder.status, 2) << folder.output;
    EXPECT_NE(folder.output.find("is a folder, not a study file"), std::string::npos) << folder.output;
  }
  EXPECT_FALSE(fs::exists(path("out")));
  EXPECT_EQ(fs::file_size(path("notes.txt")), 3000u);
  for (const char* leftover : {"empty.db-wal", "empty.db-shm", "notes.txt-wal", "notes.txt-shm"})
    EXPECT_FALSE(fs::exists(path(leftover))) << leftover;
}

TEST_F(Cli, AnInvalidStudyConfigurationCreatesNoDatabase) {
  std::string unusable = kStudy;
  unusable.replace(unusable.find("  depth"), 0, "  label_smoothing: {value: 0.5}\n");
  std::ofstream(path("study.yaml")) << unusable;
  const ProgramRun run = run_mlptune("tune " + path("study.yaml") + " --storage " + path("study.db") + " --quiet");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("label_smoothing"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(path("study.db")));
  EXPECT_FALSE(fs::exists(path("study.db.trials")));
}

TEST_F(Cli, ARerunWithAChangedSearchSpaceIsRefusedWithTheDifference) {
  std::ofstream(path("study.yaml")) << kStudy;
  const std::string tune = "tune " + path("study.yaml") + " --storage " + path("study.db") + " --quiet";
  ASSERT_EQ(run_mlptune(tune).status, 0);
  std::string changed = kStudy;
  changed.replace(changed.find("[8, 16]"), 7, "[8, 64]");
  std::ofstream(path("study.yaml")) << changed;
  const ProgramRun refused = run_mlptune(tune);
  EXPECT_EQ(refused.status, 2) << refused.output;
  EXPECT_NE(refused.output.find("parameters.width: "), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--allow-config-change"), std::string::npos) << refused.output;
  const ProgramRun allowed = run_mlptune(tune + " --allow-config-change");
  EXPECT_EQ(allowed.status, 0) << allowed.output;
}

// kill -9 in the middle of long trials, then the same command: the study says it resumed, and
// the trials continue from their checkpoints.
TEST_F(Cli, AKilledTuneContinuesItsTrialsFromTheirCheckpoints) {
  std::string long_trials = kStudy;
  long_trials.replace(long_trials.find("epochs: {value: 2}"), 18, "epochs: {value: 200}");
  long_trials.replace(long_trials.find("[8, 16]"), 7, "[256, 512]");
  long_trials.replace(long_trials.find("dataset: iris"), 13, "dataset: digits");
  std::ofstream(path("study.yaml")) << long_trials;
  const std::string config = path("study.yaml"), storage = path("study.db");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl(MLPTUNE_BINARY, "mlptune", "tune", config.c_str(), "--storage", storage.c_str(), "--checkpoint-every", "0",
            "--concurrency", "2", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto count_checkpoints = [&] {  // of running trials, in the database
    if (!fs::exists(storage)) return 0;
    try {
      auto study = mlptune::tune::open_sqlite_storage(storage, {.access = mlptune::tune::StorageAccess::read_only});
      int count = 0;
      for (const auto& record : study->trial_records(1))
        count += record.checkpoint_epoch > 0 && study->load_checkpoint(1, record.trial.number).has_value();
      return count;
    } catch (const mlptune::tune::StorageError&) {
      return 0;  // the schema is still being made
    }
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (count_checkpoints() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_GE(count_checkpoints(), 2) << "the trials should have written checkpoints before the kill";

  const ProgramRun resumed =
      run_mlptune("tune " + config + " --storage " + storage + " --checkpoint-every 0 --concurrency 2");
  EXPECT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("study study resumed"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from its checkpoint after epoch"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("2 complete"), std::string::npos) << resumed.output;
  EXPECT_EQ(count_checkpoints(), 0) << "finished trials keep no checkpoint";
}

TEST_F(Cli, TuneFlagsOutOfRangeNameTheFlagAndTheRange) {
  std::ofstream(path("study.yaml")) << kStudy;
  const std::string tune = "tune " + path("study.yaml") + " --storage " + path("study.db") + " ";
  for (const auto& [flags, message] : std::vector<std::pair<std::string, std::string>>{
           {"--checkpoint-every nan", "--checkpoint-every: must be a number of seconds in [0, 86400] (got nan)"},
           {"--checkpoint-every -5", "--checkpoint-every: must be a number of seconds in [0, 86400] (got -5)"},
           {"--concurrency 0", "--concurrency: must be a whole number in [1, 1024] (got 0)"},
           {"--top 99999999999", "--top: must be a whole number in [1, 2147483647] (got 99999999999)"}}) {
    const ProgramRun run = run_mlptune(tune + flags);
    EXPECT_EQ(run.status, 2) << flags << "\n" << run.output;
    EXPECT_NE(run.output.find(message), std::string::npos) << run.output;
  }
  EXPECT_FALSE(fs::exists(path("study.db")));
}

}  // namespace
