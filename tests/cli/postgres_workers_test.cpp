// Workers sharing one PostgreSQL study, as on many machines: a worker killed with SIGKILL loses
// its trial to the others and no trial counts twice; a trial paused at a Hyperband rung by one
// process is resumed from its checkpoint in the database by another, and ends exactly as an
// uninterrupted run of it; `report`, `export`, `studies` and `copy` work on a URL.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "cli/cli_test_support.hpp"
#include "cli/worker_process.hpp"
#include "mlptune/tune/storage.hpp"
#include "tune/postgres_test_support.hpp"

namespace {

using namespace mlptune::testing;
using mlptune::tune::RunState;
using mlptune::tune::TrialRecord;
using namespace std::chrono_literals;

class PostgresWorkers : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    const auto server = mlptune::tune::testing::postgres_server_url();
    if (!server) GTEST_SKIP() << mlptune::tune::testing::kNoPostgresServer;
    database_ = std::make_unique<mlptune::tune::testing::TestDatabase>(*server);
  }

  std::string url() const { return database_->url(); }

  // The study's trials as the database has them now; none before the first worker made the schema.
  std::vector<TrialRecord> records(const std::string& study = "workers") {
    std::unique_ptr<mlptune::tune::Storage> storage;
    try {
      storage = mlptune::tune::open_storage(url(), mlptune::tune::StorageAccess::read_only);
    } catch (const mlptune::tune::StorageError&) {
      return {};
    }
    const auto found = storage->find_study(study);
    return found ? storage->trial_records(found->id) : std::vector<TrialRecord>{};
  }

  std::vector<std::string> tune_command(const std::string& config, const std::vector<std::string>& flags) const {
    std::vector<std::string> argv = {MLPTUNE_BINARY, "tune", path(config), "--storage", url(), "--quiet"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return argv;
  }

  std::unique_ptr<mlptune::tune::testing::TestDatabase> database_;
};

// Four workers, run_cap 40; worker 0 is killed with SIGKILL in the middle of a trial. Its trial
// runs again on another worker; the study ends with exactly 40 finished trials, numbered 0..39,
// none running, and `mlptune report` on the URL agrees.
TEST_F(PostgresWorkers, FourWorkersFinishExactlyTheRunCapWhenOneIsKilledMidTrial) {
  std::ofstream(path("workers.yaml")) << "method: random\n"
                                         "metric: {name: validation_loss, goal: minimize}\n"
                                         "parameters:\n"
                                         "  lr: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0e-1}\n"
                                         "  width: {values: [32, 64]}\n"
                                         "  epochs: {value: 30}\n"
                                         "run_cap: 40\n"
                                         "mlptune: {dataset: digits, backend: cpu, seed: 11}\n";
  const std::vector<std::string> flags = {"--concurrency", "1", "--heartbeat-interval", "0.2",
                                          "--stale-after", "1", "--checkpoint-every",   "0"};
  std::vector<pid_t> workers;
  for (int worker = 0; worker < 4; ++worker)
    workers.push_back(spawn(tune_command("workers.yaml", flags), path("worker" + std::to_string(worker) + ".log")));

  // Worker 0 mid-trial: it runs a trial that has reported an epoch but not reached half its epochs.
  int victim = -1;
  ASSERT_TRUE(wait_until(
      [&] {
        for (const TrialRecord& record : records())
          if (record.owner.pid == workers[0] && record.trial.state == RunState::running &&
              !record.trial.intermediate.empty() && record.trial.intermediate.size() < 15) {
            victim = record.trial.number;
            return true;
          }
        return false;
      },
      120s))
      << read_file(path("worker0.log"));
  ::kill(workers[0], SIGKILL);
  EXPECT_EQ(wait_for(workers[0], 10s), -1);
  for (int worker = 1; worker < 4; ++worker)
    EXPECT_EQ(wait_for(workers[worker], 300s), 0) << read_file(path("worker" + std::to_string(worker) + ".log"));

  const std::vector<TrialRecord> trials = records();
  ASSERT_EQ(trials.size(), 40u);
  std::set<int> numbers;
  for (const TrialRecord& record : trials) {
    numbers.insert(record.trial.number);
    EXPECT_EQ(record.trial.state, RunState::complete)
        << "trial " << record.trial.number << ": " << record.trial.message;
    EXPECT_EQ(record.trial.intermediate.size(), 30u) << "trial " << record.trial.number;
  }
  EXPECT_EQ(numbers.size(), 40u);
  EXPECT_EQ(*numbers.begin(), 0);
  EXPECT_EQ(*numbers.rbegin(), 39);
  const TrialRecord& taken_over = trials.at(std::size_t(victim));
  EXPECT_NE(taken_over.owner.pid, workers[0]) << "another worker finished trial " << victim;
  EXPECT_GE(taken_over.claim_token, 2) << "claimed again after the kill";

  const ProgramRun report = run_mlptune("report '" + url() + "' --study-name workers");
  EXPECT_EQ(report.status, 0) << report.output;
  EXPECT_NE(report.output.find("40 complete, 0 pruned, 0 failed, 0 running, 0 waiting"), std::string::npos)
      << report.output;
  EXPECT_EQ(report.output.find(mlptune::tune::testing::ServerUrl(url()).password), std::string::npos)
      << "no password in the output";
}

// The per-epoch metric of `mlptune train COMMAND` run whole, uninterrupted, with --metrics.
std::map<int, double> uninterrupted_run(const std::string& command, const std::string& metrics) {
  const ProgramRun trained = run_mlptune(command.substr(command.find(' ') + 1) + " --quiet --metrics " + metrics);
  EXPECT_EQ(trained.status, 0) << trained.output;
  std::map<int, double> values;
  const nlohmann::json run = nlohmann::json::parse(read_file(metrics));
  for (const auto& epoch : run.at("epochs"))
    values[epoch.at("epoch").get<int>()] = epoch.at("validation_loss").get<double>();
  EXPECT_FALSE(values.empty()) << command << "\n" << trained.output;
  return values;
}

// A Hyperband study stopped by SIGTERM in one process while trials wait at a rung; another process
// runs the same command, promotes them from their checkpoints in the database, and each promoted
// trial's learning curve is, bit for bit, that of the same trial trained without a pause.
TEST_F(PostgresWorkers, APausedTrialIsResumedByAnotherProcessExactlyAsAnUninterruptedRun) {
  std::ofstream(path("workers.yaml")) << "method: random\n"
                                         "metric: {name: validation_loss, goal: minimize}\n"
                                         "parameters:\n"
                                         "  lr: {distribution: log_uniform_values, min: 1.0e-3, max: 3.0e-2}\n"
                                         "  width: {values: [24, 48]}\n"
                                         "  epochs: {value: 9}\n"
                                         "early_terminate: {type: hyperband, min_iter: 1, max_iter: 9, eta: 3}\n"
                                         "run_cap: 12\n"
                                         "mlptune: {dataset: digits, backend: cpu, seed: 4}\n";
  const std::vector<std::string> flags = {"--concurrency", "1", "--checkpoint-every", "0"};
  const pid_t first = spawn(tune_command("workers.yaml", flags), path("first.log"));
  std::set<int> paused_in_first;
  ASSERT_TRUE(wait_until(
      [&] {
        paused_in_first.clear();
        for (const TrialRecord& record : records())
          if (mlptune::tune::is_paused(record.trial)) paused_in_first.insert(record.trial.number);
        return paused_in_first.size() >= 3;
      },
      120s))
      << read_file(path("first.log"));
  ::kill(first, SIGTERM);
  EXPECT_EQ(wait_for(first, 60s), 143) << read_file(path("first.log"));
  for (const TrialRecord& record : records())
    if (mlptune::tune::is_paused(record.trial)) paused_in_first.insert(record.trial.number);

  const pid_t second = spawn(tune_command("workers.yaml", flags), path("second.log"));
  ASSERT_EQ(wait_for(second, 300s), 0) << read_file(path("second.log"));

  int resumed = 0;
  for (const TrialRecord& record : records()) {
    if (!paused_in_first.contains(record.trial.number) || record.trial.state != RunState::complete) continue;
    ++resumed;
    SCOPED_TRACE("trial " + std::to_string(record.trial.number));
    EXPECT_NE(record.owner.pid, first) << "the second process resumed it";
    const auto alone = uninterrupted_run(record.attributes.at("command"),
                                         path("trial" + std::to_string(record.trial.number) + ".json"));
    ASSERT_EQ(alone.size(), 9u);
    EXPECT_EQ(record.trial.intermediate, alone) << "every epoch's value, bit for bit";
    EXPECT_EQ(record.trial.value, alone.at(9));
  }
  EXPECT_GE(resumed, 1) << "a trial paused by the first process should have been promoted and finished by the second\n"
                        << read_file(path("second.log"));
}

// report, export (the best weights included), studies and copy on a URL, both ways.
TEST_F(PostgresWorkers, TheStorageCommandsWorkOnAUrl) {
  std::ofstream(path("small.yaml")) << "method: random\n"
                                       "metric: {name: validation_accuracy, goal: maximize}\n"
                                       "parameters:\n"
                                       "  lr: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0e-1}\n"
                                       "  epochs: {value: 2}\n"
                                       "run_cap: 3\n"
                                       "mlptune: {dataset: iris, backend: cpu, seed: 2, study_name: workers}\n";
  const ProgramRun laptop = run_mlptune("tune " + path("small.yaml") + " --storage " + path("laptop.db") + " -q");
  ASSERT_EQ(laptop.status, 0) << laptop.output;
  const std::string quoted_url = "'" + url() + "'";
  const ProgramRun to_cluster = run_mlptune("copy " + path("laptop.db") + " " + quoted_url);
  ASSERT_EQ(to_cluster.status, 0) << to_cluster.output;
  EXPECT_EQ(records().size(), 3u);

  const ProgramRun listed = run_mlptune("studies " + quoted_url);
  EXPECT_EQ(listed.status, 0) << listed.output;
  EXPECT_NE(listed.output.find("workers"), std::string::npos) << listed.output;
  const ProgramRun here = run_mlptune("report " + path("laptop.db"));
  const ProgramRun there = run_mlptune("report " + quoted_url);
  EXPECT_EQ(there.status, 0) << there.output;
  EXPECT_EQ(here.output, there.output);

  // More trials on the cluster, then the study back to a file for the archive.
  std::string more = read_file(path("small.yaml"));
  more.replace(more.find("run_cap: 3"), 10, "run_cap: 5");
  std::ofstream(path("small.yaml")) << more;
  const ProgramRun cluster = run_mlptune("tune " + path("small.yaml") + " --storage " + quoted_url + " -q");
  ASSERT_EQ(cluster.status, 0) << cluster.output;
  EXPECT_EQ(cluster.output.find(mlptune::tune::testing::ServerUrl(url()).password), std::string::npos)
      << "no password in the output:\n"
      << cluster.output;
  const ProgramRun exported =
      run_mlptune("export " + quoted_url + " --out " + path("export") + " --best-weights " + path("best.safetensors"));
  EXPECT_EQ(exported.status, 0) << exported.output;
  EXPECT_TRUE(fs::exists(path("export/journal.log")));
  EXPECT_TRUE(fs::exists(path("best.safetensors")));
  const ProgramRun archived = run_mlptune("copy " + quoted_url + " " + path("archive.db"));
  ASSERT_EQ(archived.status, 0) << archived.output;
  EXPECT_EQ(run_mlptune("report " + path("archive.db")).output, run_mlptune("report " + quoted_url).output);
}

// `mlptune tune` on a URL it cannot use: exit 2, a message naming the URL without its password and
// the fix, and nothing written anywhere.
TEST_F(PostgresWorkers, TuneOnAWrongPasswordOrAMistypedSchemeSaysSoAndWritesNothing) {
  std::ofstream(path("small.yaml")) << "method: random\n"
                                       "metric: {name: validation_loss, goal: minimize}\n"
                                       "parameters:\n"
                                       "  lr: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0e-1}\n"
                                       "  epochs: {value: 2}\n"
                                       "run_cap: 2\n"
                                       "mlptune: {dataset: iris, backend: cpu}\n";
  mlptune::tune::testing::ServerUrl wrong(url());
  wrong.password = "not-the-password";
  const ProgramRun refused = run_mlptune("tune " + path("small.yaml") + " --storage '" + wrong.text() + "'");
  EXPECT_EQ(refused.status, 2) << refused.output;
  EXPECT_NE(refused.output.find("postgresql://mlptune:***@"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("password"), std::string::npos) << "it names the problem:\n" << refused.output;
  EXPECT_EQ(refused.output.find("not-the-password"), std::string::npos) << refused.output;

  std::string typo = url();
  typo.replace(0, std::string("postgresql").size(), "postgressql");
  const ProgramRun mistyped = run_mlptune("tune " + path("small.yaml") + " --storage '" + typo + "'");
  EXPECT_EQ(mistyped.status, 2) << mistyped.output;
  EXPECT_NE(mistyped.output.find("postgresql://"), std::string::npos) << mistyped.output;
  EXPECT_EQ(mistyped.output.find(mlptune::tune::testing::ServerUrl(url()).password), std::string::npos)
      << mistyped.output;

  EXPECT_TRUE(records().empty()) << "no study was created";
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(folder_)) left.push_back(entry.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"small.yaml"}) << "no file was written";
}

// The storage URL written in the YAML, password and all: the study keeps it as ***, a rerun with the
// same YAML is the same study (no configuration change), and a copy into an SQLite file holds no
// trace of the password.
TEST_F(PostgresWorkers, APasswordInTheYamlsStorageUrlIsNeverStored) {
  const std::string password = mlptune::tune::testing::ServerUrl(url()).password;
  std::ofstream(path("secret.yaml")) << "method: random\n"
                                        "metric: {name: validation_accuracy, goal: maximize}\n"
                                        "parameters:\n"
                                        "  lr: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0e-1}\n"
                                        "  epochs: {value: 1}\n"
                                        "run_cap: 1\n"
                                        "name: secret\n"
                                        "mlptune: {dataset: iris, backend: cpu, storage: \""
                                     << url() << "\"}\n";
  for (int run = 0; run < 2; ++run) {
    const ProgramRun tuned = run_mlptune("tune " + path("secret.yaml") + " -q");
    ASSERT_EQ(tuned.status, 0) << tuned.output;
    EXPECT_EQ(tuned.output.find("changed configuration"), std::string::npos) << tuned.output;
  }
  auto storage = mlptune::tune::open_storage(url(), mlptune::tune::StorageAccess::read_only);
  const auto study = storage->find_study("secret");
  ASSERT_TRUE(study.has_value());
  EXPECT_EQ(study->config_yaml.find(password), std::string::npos) << study->config_yaml;
  EXPECT_NE(study->config_yaml.find(":***@"), std::string::npos) << study->config_yaml;
  EXPECT_TRUE(storage->config_history(study->id).empty());

  const ProgramRun copied = run_mlptune("copy " + url() + " " + path("copy.db"));
  ASSERT_EQ(copied.status, 0) << copied.output;
  for (const char* file : {"copy.db", "copy.db-wal"})
    EXPECT_EQ(read_file(path(file)).find(password), std::string::npos) << file;
}

}  // namespace
