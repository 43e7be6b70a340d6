// Stopping `mlptune tune` gracefully, with real signals to the real program: a first SIGINT,
// SIGTERM or SIGHUP saves the running trials at their epoch end (waiting, epochs kept) and exits
// 130, 143 or 129, a second quits at once; a --timeout does the same and exits 0; the next run
// continues the trials. A closed standard output ends nothing. And the W&B documentation's basic
// sweep (no run_cap) as it is, logged to a file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_test_support.hpp"
#include "mlptune/tune/storage.hpp"

namespace {

using namespace mlptune::testing;
using mlptune::tune::RunState;
using mlptune::tune::TrialRecord;
using Clock = std::chrono::steady_clock;

// Two trials of 40 epochs of a few tens of milliseconds each, so that a signal finds both running.
const char* kLongTrials =
    "method: random\n"
    "metric: {name: validation_loss, goal: minimize}\n"
    "parameters:\n"
    "  lr: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0e-2}\n"
    "  width: {value: 512}\n"
    "  depth: {value: 1}\n"
    "  batch_size: {value: 16}\n"
    "  epochs: {value: 40}\n"
    "run_cap: 2\n"
    "mlptune: {dataset: digits, backend: cpu, seed: 5, concurrency: 2}\n";

// `mlptune ARGS...` as a child process, its stdout and stderr in `log`.
pid_t start_mlptune(const std::vector<std::string>& args, const std::string& log) {
  const pid_t child = ::fork();
  if (child != 0) return child;
  const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(out, 1);
  ::dup2(out, 2);
  std::vector<char*> argv{const_cast<char*>("mlptune")};
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  ::execv(MLPTUNE_BINARY, argv.data());
  ::_exit(127);
}

// The exit status, or -1 for a child ended by a signal (or not ended within `limit`: then killed).
int wait_exit(pid_t child, std::chrono::seconds limit = std::chrono::seconds(120)) {
  const auto deadline = Clock::now() + limit;
  int status = 0;
  while (::waitpid(child, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The study's trials as the file holds them now; empty while it cannot be read yet.
std::vector<TrialRecord> stored_trials(const std::string& database) {
  try {
    auto storage = mlptune::tune::open_sqlite_storage(database, {.access = mlptune::tune::StorageAccess::read_only});
    const auto studies = storage->studies();
    if (studies.empty()) return {};
    return storage->trial_records(studies.front().id);
  } catch (const std::exception&) {
    return {};
  }
}

bool wait_until(const std::function<bool()>& condition, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto deadline = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

bool contains(const std::string& text, const std::string& piece) {
  return text.find(piece) != std::string::npos;
}

// Suspended by a stop: waiting (not paused at a rung), its checkpoint after its last stored epoch,
// every epoch from 1 kept.
void expect_saved_at_its_last_epoch(const std::string& database, const TrialRecord& record, int epochs) {
  SCOPED_TRACE("trial " + std::to_string(record.trial.number));
  EXPECT_EQ(record.trial.state, RunState::waiting);
  EXPECT_FALSE(mlptune::tune::is_paused(record.trial));
  ASSERT_FALSE(record.trial.intermediate.empty());
  EXPECT_EQ(record.checkpoint_epoch, record.trial.intermediate.rbegin()->first);
  EXPECT_EQ(record.checkpoint_epoch, int(record.trial.intermediate.size()));
  EXPECT_LT(record.checkpoint_epoch, epochs) << "stopped before its end";
  auto storage = mlptune::tune::open_sqlite_storage(database);
  EXPECT_TRUE(storage->load_checkpoint(storage->studies().front().id, record.trial.number).has_value());
}

struct SignalCase {
  int signal;
  int exit_status;
  const char* name;
};

class FirstSignal : public Cli, public ::testing::WithParamInterface<SignalCase> {};

// Periodic checkpoints are 30 s apart by default, far beyond this run: the trials' saved states
// come from the stop itself.
TEST_P(FirstSignal, SavesTheRunningTrialsAtTheirEpochEndAndTheNextRunFinishesThem) {
  const SignalCase signal = GetParam();
  std::ofstream(path("study.yaml")) << kLongTrials;
  const std::vector<std::string> tune = {"tune", path("study.yaml"), "--storage", path("study.db")};
  const pid_t child = start_mlptune(tune, path("first.log"));
  ASSERT_TRUE(wait_until([&] {
    const auto trials = stored_trials(path("study.db"));
    return trials.size() == 2 && trials[0].trial.intermediate.size() >= 2 && trials[1].trial.intermediate.size() >= 2;
  })) << read_file(path("first.log"));
  ::kill(child, signal.signal);
  EXPECT_EQ(wait_exit(child), signal.exit_status);
  const std::string first = read_file(path("first.log"));
  EXPECT_TRUE(contains(first, std::string("mlptune: ") + signal.name + ": stopping once the running trials end"))
      << first;
  EXPECT_TRUE(contains(first, std::string("stopped early: ") + signal.name + ".")) << first;
  EXPECT_TRUE(contains(first, "Trials 0, 1 were saved after their last epoch")) << first;
  EXPECT_TRUE(contains(first, "To continue the study, run the same command again: mlptune tune " + path("study.yaml")))
      << first;
  EXPECT_TRUE(contains(first, "rank")) << "the report is printed:\n" << first;
  const auto stopped = stored_trials(path("study.db"));
  ASSERT_EQ(stopped.size(), 2u);
  for (const auto& record : stopped) expect_saved_at_its_last_epoch(path("study.db"), record, 40);

  const pid_t again = start_mlptune(tune, path("second.log"));
  EXPECT_EQ(wait_exit(again), 0);
  const std::string second = read_file(path("second.log"));
  EXPECT_TRUE(contains(second, "2 saved by a stop to continue")) << second;
  for (const auto& record : stopped)
    EXPECT_TRUE(contains(second, "trial " + std::to_string(record.trial.number) +
                                     " resumed from its checkpoint after epoch " +
                                     std::to_string(record.checkpoint_epoch)))
        << second;
  const auto finished = stored_trials(path("study.db"));
  ASSERT_EQ(finished.size(), 2u);
  for (std::size_t i = 0; i < finished.size(); ++i) {
    EXPECT_EQ(finished[i].trial.state, RunState::complete);
    EXPECT_EQ(finished[i].trial.intermediate.size(), 40u);
    for (const auto& [epoch, value] : stopped[i].trial.intermediate)
      EXPECT_EQ(finished[i].trial.intermediate.at(epoch), value) << "epoch " << epoch << " kept as it was";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Tune, FirstSignal,
    ::testing::Values(SignalCase{SIGINT, 130, "Ctrl-C (SIGINT)"}, SignalCase{SIGTERM, 143, "SIGTERM"},
                      SignalCase{SIGHUP, 129, "SIGHUP (the terminal closed)"}),
    [](const auto& info) {
      return std::string(info.param.signal == SIGINT ? "Int" : info.param.signal == SIGTERM ? "Term" : "Hup");
    });

// `mlptune tune ... | head -1`: the reader of stdout is gone (here before the first line, so that no
// timing decides when), and the study still runs to its end; stderr says once that stdout is closed.
TEST_F(Cli, AClosedStandardOutputDoesNotEndTheStudy) {
  std::string short_trials = kLongTrials;
  short_trials.replace(short_trials.find("epochs: {value: 40}"), 19, "epochs: {value: 3}");
  std::ofstream(path("study.yaml")) << short_trials;
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    const int log = ::open(path("stderr.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out[1], 1);
    ::dup2(log, 2);
    ::close(out[0]);
    const std::string config = path("study.yaml"), storage = path("study.db");
    ::execl(MLPTUNE_BINARY, "mlptune", "tune", config.c_str(), "--storage", storage.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(out[0]);  // the reader quits before reading anything
  EXPECT_EQ(wait_exit(child), 0) << "not killed by SIGPIPE: " << read_file(path("stderr.log"));
  const std::string errors = read_file(path("stderr.log"));
  const std::string closed = "mlptune: standard output is closed (the program reading it has quit); going on";
  EXPECT_TRUE(contains(errors, closed)) << errors;
  EXPECT_EQ(errors.find(closed), errors.rfind(closed)) << "said once:\n" << errors;
  const auto trials = stored_trials(path("study.db"));
  ASSERT_EQ(trials.size(), 2u);
  for (const auto& record : trials) EXPECT_EQ(record.trial.state, RunState::complete);
}

// One epoch of this trial takes seconds: a second signal must not wait for it. The database stays as
// kill -9 leaves it: the trial still marked running by a process that is gone, requeued by the next.
TEST_F(Cli, ASecondSignalQuitsAtOnceAndLeavesTheStudyConsistent) {
  std::string slow = kLongTrials;
  slow.replace(slow.find("width: {value: 512}"), 19, "width: {value: 4096}");
  slow.replace(slow.find("depth: {value: 1}"), 17, "depth: {value: 2}");
  slow.replace(slow.find("run_cap: 2"), 10, "run_cap: 1");
  std::ofstream(path("study.yaml")) << slow;
  const pid_t child = start_mlptune({"tune", path("study.yaml"), "--storage", path("study.db")}, path("run.log"));
  ASSERT_TRUE(wait_until([&] { return stored_trials(path("study.db")).size() == 1; })) << read_file(path("run.log"));
  ::kill(child, SIGINT);
  ASSERT_TRUE(wait_until([&] { return contains(read_file(path("run.log")), "Ctrl-C again quits at once"); }));
  ::kill(child, SIGINT);
  EXPECT_EQ(wait_exit(child), 130);
  const std::string log = read_file(path("run.log"));
  EXPECT_TRUE(contains(log, "mlptune: Ctrl-C (SIGINT) again: quitting at once")) << log;
  EXPECT_FALSE(contains(log, "stopped early")) << log;

  const auto left = stored_trials(path("study.db"));
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].trial.state, RunState::running)
      << "as after kill -9 (had the second signal waited for the epoch's end, the trial would be saved)";
  auto storage = mlptune::tune::open_sqlite_storage(path("study.db"));
  const int study = storage->studies().front().id;
  EXPECT_EQ(storage->requeue_abandoned_trials(study, mlptune::tune::current_owner(), 3600.0, 3).requeued,
            std::vector<int>{0});
  const ProgramRun report = run_mlptune("report " + path("study.db"));
  EXPECT_EQ(report.status, 0) << report.output;
}

// The W&B documentation's basic sweep, unchanged (program, name, method bayes and no run_cap), with
// stdout a file as in CI, nohup or Slurm: each finished trial is one line, the status comes every
// 30 s (once in a 31 s run), nothing is redrawn; the timeout ends it with exit status 0.
TEST_F(Cli, TheWandbBasicSweepRunsAsItIsUntilItsTimeoutAndLogsOneLinePerTrial) {
  const std::string sweep = std::string(MLPTUNE_SOURCE_DIR) + "/experiments/wandb_sweepdemo.yaml";
  const std::vector<std::string> tune = {"tune", sweep, "--storage", path("sweep.db"), "--concurrency", "1"};
  std::vector<std::string> timed = tune;
  timed.insert(timed.end(), {"--timeout", "31s"});
  const auto start = Clock::now();
  EXPECT_EQ(wait_exit(start_mlptune(timed, path("sweep.log"))), 0);
  EXPECT_GE(std::chrono::duration<double>(Clock::now() - start).count(), 31.0);
  const std::string log = read_file(path("sweep.log"));
  EXPECT_TRUE(contains(log, "study sweepdemo started")) << log;
  EXPECT_TRUE(contains(log, "no trial starts after 31.0s (the timeout)")) << log;
  EXPECT_TRUE(contains(log, "stopped early: the time budget of 31.0s is spent.")) << log;
  EXPECT_EQ(log.find('\r'), std::string::npos) << "nothing redrawn in a log";
  EXPECT_EQ(log.find("\033["), std::string::npos) << "no terminal codes in a log";

  const auto trials = stored_trials(path("sweep.db"));
  int complete = 0;
  for (const auto& record : trials) {
    EXPECT_NE(record.trial.state, RunState::running) << record.trial.number;
    if (record.trial.state == RunState::waiting) expect_saved_at_its_last_epoch(path("sweep.db"), record, 15);
    if (record.trial.state != RunState::complete) continue;
    ++complete;
    const std::regex finished_line("\ntrial " + std::to_string(record.trial.number) +
                                   " complete: validation_loss [0-9.]+\n");
    std::smatch match;
    EXPECT_TRUE(std::regex_search(log, match, finished_line)) << "trial " << record.trial.number;
  }
  EXPECT_GE(complete, 2) << "trials of a few hundred ms for 31 s";
  const std::regex status_line("\n\\[[0-9]+, no run_cap\\] [0-9]+ complete, [^\n]* left of the timeout\n");
  const auto statuses =
      std::distance(std::sregex_iterator(log.begin(), log.end(), status_line), std::sregex_iterator());
  EXPECT_EQ(statuses, 1) << "one status line at 30 s:\n" << log;
  int lines = 0;
  for (char c : log) lines += c == '\n';
  EXPECT_LT(lines, complete + 40) << "about one line per finished trial, and the report";

  const ProgramRun again = run_mlptune("tune " + sweep + " --storage " + path("sweep.db") + " --timeout 1s");
  EXPECT_EQ(again.status, 0) << again.output;
  EXPECT_TRUE(contains(again.output, "study sweepdemo resumed")) << again.output;
  // A trial that starts within the budget trains its epoch to the end, however long it takes.
  const auto stored_epochs = [](const std::vector<TrialRecord>& records) {
    std::size_t epochs = 0;
    for (const auto& record : records) epochs += record.trial.intermediate.size();
    return epochs;
  };
  EXPECT_GT(stored_epochs(stored_trials(path("sweep.db"))), stored_epochs(trials)) << "a fresh budget: more epochs";
}

TEST_F(Cli, ATimeoutThatIsNoDurationIsRefusedWithTheFormsItTakes) {
  std::ofstream(path("study.yaml")) << kLongTrials;
  const ProgramRun run =
      run_mlptune("tune " + path("study.yaml") + " --storage " + path("study.db") + " --timeout 10x");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output,
                       "--timeout: must be a duration such as 90s, 10m, 1h30m or 2h, or plain seconds, "
                       "more than 0 (got 10x)"))
      << run.output;
  EXPECT_FALSE(fs::exists(path("study.db")));
}

}  // namespace
