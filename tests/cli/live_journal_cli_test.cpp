// `mlptune tune --journal`: Optuna's own JournalStorage, reading the file while the study runs,
// sees the trials finished so far; after the end it sees every trial and the metric's name.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/cli_test_support.hpp"
#include "mlptune/tune/storage.hpp"

namespace mlptune::testing {
namespace {

using nlohmann::json;

// digits, one trial at a time, a few seconds in all (about 2.5 s on a 2-core Xeon): long enough for
// several syncs of the journal (every 0.5 s) to happen while it runs. batch_size 2 and 30 epochs make
// the trials slow on purpose.
constexpr const char* kStudy = R"(name: live
method: random
metric: {name: validation_accuracy, goal: maximize}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0e-1}
  batch_size: {value: 2}
  depth: {value: 1}
  width: {values: [384, 512]}
  epochs: {value: 30}
early_terminate: {type: median, startup_trials: 2}
run_cap: 8
mlptune: {dataset: digits, backend: cpu, concurrency: 1, seed: 1}
)";

// Prints the study as Optuna reads it: once it sees a finished trial while the mlptune process
// (argv[3], not yet reaped) still runs, or at the end (argv[3] = 0).
constexpr const char* kReader = R"py(import json, os, sys, time, optuna
from optuna.storages import JournalStorage
try:
    from optuna.storages.journal import JournalFileBackend
except ImportError:  # Optuna before 4.0
    from optuna.storages import JournalFileStorage as JournalFileBackend
optuna.logging.set_verbosity(optuna.logging.ERROR)
path, name, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])

def running():
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False

def snapshot(study):
    return {"metric_names": study.metric_names, "direction": study.direction.name,
            "trials": [{"number": t.number, "state": t.state.name, "value": t.value,
                        "intermediate": {str(k): v for k, v in t.intermediate_values.items()}}
                       for t in study.trials]}

storage, deadline = None, time.time() + 300
while time.time() < deadline:
    if os.path.exists(path) and os.path.getsize(path) > 0:
        storage = storage or JournalStorage(JournalFileBackend(path))  # one reader, as a dashboard keeps
        try:
            now = snapshot(optuna.load_study(study_name=name, storage=storage))
        except KeyError:  # the study's first record is not there yet
            now = None
        if pid == 0:
            print(json.dumps(now))
            sys.exit(0)
        if now and any(t["state"] in ("COMPLETE", "PRUNED") for t in now["trials"]) and running():
            print(json.dumps(now))
            sys.exit(0)
    if pid and not running():
        sys.exit("the study ended before its journal showed a finished trial")
    time.sleep(0.05)
sys.exit("timed out")
)py";

bool optuna_installed() {
  return std::system("python3 -c 'import optuna' > /dev/null 2>&1") == 0;
}

// Starts `mlptune ARGS` without waiting for it; its output goes to `log`.
pid_t start_mlptune(const std::string& args, const std::string& log) {
  const std::string command = std::string(MLPTUNE_BINARY) + " " + args + " > " + log + " 2>&1";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

json read_journal(const std::string& script, const std::string& journal, pid_t pid, const std::string& out) {
  const std::string command = "python3 " + script + " " + journal + " live " + std::to_string(pid) + " > " + out;
  if (std::system(command.c_str()) != 0) return nullptr;
  return json::parse(read_file(out));
}

class LiveJournalCli : public Cli {};

TEST_F(LiveJournalCli, OptunaSeesTheStudyWhileItRunsAndWhole) {
  if (!optuna_installed())
    GTEST_SKIP() << "python3 with optuna is not installed (pip install optuna) so the journal cannot be checked";
  std::ofstream(path("live.yaml")) << kStudy;
  std::ofstream(path("reader.py")) << kReader;
  const pid_t study = start_mlptune(
      "tune " + path("live.yaml") + " --storage " + path("live.db") + " --journal " + path("live.log") + " --quiet",
      path("tune.txt"));
  ASSERT_GT(study, 0);
  const json during = read_journal(path("reader.py"), path("live.log"), study, path("during.json"));
  int status = 0;
  ::waitpid(study, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(path("tune.txt"));
  ASSERT_FALSE(during.is_null()) << "Optuna saw no finished trial while the study ran";
  const json after = read_journal(path("reader.py"), path("live.log"), 0, path("after.json"));
  ASSERT_FALSE(after.is_null()) << "Optuna could not load the journal";

  auto storage = tune::open_sqlite_storage(path("live.db"), {.access = tune::StorageAccess::read_only});
  const auto records = storage->trial_records(storage->find_study("live")->id);
  ASSERT_EQ(records.size(), 8u);
  EXPECT_EQ(after["metric_names"], json::array({"validation_accuracy"}));
  EXPECT_EQ(after["direction"], "MAXIMIZE");
  const json& trials = after["trials"];
  ASSERT_EQ(trials.size(), records.size());
  const std::map<tune::RunState, std::string> names = {
      {tune::RunState::complete, "COMPLETE"}, {tune::RunState::pruned, "PRUNED"}, {tune::RunState::failed, "FAIL"}};
  int pruned = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const tune::FrozenTrial& trial = records[i].trial;
    EXPECT_EQ(trials[i]["state"], names.at(trial.state)) << "trial " << i;
    ASSERT_TRUE(trial.value.has_value());
    EXPECT_DOUBLE_EQ(trials[i]["value"].get<double>(), *trial.value) << "trial " << i;
    ASSERT_EQ(trials[i]["intermediate"].size(), trial.intermediate.size()) << "trial " << i;
    for (const auto& [epoch, value] : trial.intermediate)
      EXPECT_DOUBLE_EQ(trials[i]["intermediate"][std::to_string(epoch)].get<double>(), value);
    pruned += trial.state == tune::RunState::pruned;
  }
  // While it ran: fewer trials finished than at the end, and each one seen finished was already
  // as it ended, with every epoch's value.
  int finished_during = 0;
  for (const json& seen : during["trials"]) {
    if (seen["state"] != "COMPLETE" && seen["state"] != "PRUNED") continue;
    ++finished_during;
    const json& final_trial = trials[seen["number"].get<std::size_t>()];
    EXPECT_EQ(seen["state"], final_trial["state"]);
    EXPECT_EQ(seen["value"], final_trial["value"]);
    EXPECT_EQ(seen["intermediate"], final_trial["intermediate"]);
  }
  EXPECT_GE(finished_during, 1);
  EXPECT_LT(finished_during, int(records.size())) << "the journal was read only after the study ended";
  EXPECT_EQ(during["metric_names"], json::array({"validation_accuracy"}));
  EXPECT_GT(pruned, 0) << "the median pruner pruned no trial, so the PRUNED state went untested";

  // `mlptune export` writes the same trials, with the metric's name as well.
  const ProgramRun exported = run_mlptune("export " + path("live.db") + " --out " + path("export"));
  ASSERT_EQ(exported.status, 0) << exported.output;
  const json whole = read_journal(path("reader.py"), path("export/journal.log"), 0, path("export.json"));
  ASSERT_FALSE(whole.is_null()) << "Optuna could not load the exported journal";
  EXPECT_EQ(whole["metric_names"], json::array({"validation_accuracy"}));
  EXPECT_EQ(whole["trials"], trials);
}

TEST_F(LiveJournalCli, AJournalInAMissingFolderIsRefusedBeforeTheStudyStarts) {
  std::ofstream(path("live.yaml")) << kStudy;
  const ProgramRun run =
      run_mlptune("tune " + path("live.yaml") + " --storage " + path("live.db") + " --journal " + path("no/live.log"));
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("the Optuna journal " + path("no/live.log") + ": the folder " + path("no") +
                            " does not exist; create it first"),
            std::string::npos)
      << run.output;
  EXPECT_FALSE(fs::exists(path("live.db")));
}

}  // namespace
}  // namespace mlptune::testing
