// The journal a study appends as it runs: level with the storage at the end, continued (never
// repeated) by a resumed study, refused when it is another study's, whole after a failed write.
#include "tune/live_journal.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mlptune/tune/report.hpp"
#include "thrown_message.hpp"
#include "tune/study_test_support.hpp"

namespace mlptune::tune {
namespace {

using testing::TempFolder;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

int count_op(const std::string& text, int op_code) {
  int count = 0;
  for (const std::string& line : lines_of(text)) count += nlohmann::json::parse(line)["op_code"] == op_code;
  return count;
}

JournalState replay(const std::string& text) {
  JournalState journal;
  for (const std::string& line : lines_of(text)) apply_journal_record(journal, line);
  return journal;
}

class LiveJournalTest : public ::testing::Test {
 protected:
  StudyOptions options() const {
    StudyOptions options;
    options.storage_path = folder_.file("study.db");
    options.journal_path = folder_.file("journal.log");
    return options;
  }
  StudyResult run(int run_cap) {
    return run_study(testing::fake_study_config(run_cap, 3), options(), testing::fake_parts(3));
  }
  std::vector<TrialRecord> stored() {
    auto storage = open_sqlite_storage(folder_.file("study.db"));
    return storage->trial_records(storage->find_study("fake")->id);
  }
  // The journal holds exactly the stored trials: states, values and intermediate values.
  void expect_level(const JournalState& journal, const std::vector<TrialRecord>& records) {
    ASSERT_EQ(journal.trials.size(), records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      EXPECT_EQ(journal.trials[i].state, records[i].trial.state) << "trial " << i;
      EXPECT_EQ(journal.trials[i].intermediate, records[i].trial.intermediate) << "trial " << i;
      EXPECT_EQ(journal.trials[i].params.size(), records[i].trial.params.size()) << "trial " << i;
      EXPECT_EQ(journal.trials[i].user_attrs.at("command"), records[i].attributes.at("command"));
    }
  }

  TempFolder folder_;
};

TEST_F(LiveJournalTest, IsLevelWithTheStorageWhenTheStudyEnds) {
  run(6);
  const std::string text = read_text(folder_.file("journal.log"));
  const JournalState journal = replay(text);
  EXPECT_EQ(journal.study_name, "fake");
  EXPECT_EQ(journal.metric_names, std::vector<std::string>{"validation_loss"});
  expect_level(journal, stored());
  EXPECT_EQ(count_op(text, 4), 6);  // CREATE_TRIAL, once per trial
}

TEST_F(LiveJournalTest, AResumedStudyAppendsOnlyWhatIsNew) {
  run(4);
  const std::string before = read_text(folder_.file("journal.log"));
  run(9);  // run_cap raised: five more trials
  const std::string after = read_text(folder_.file("journal.log"));
  ASSERT_GT(after.size(), before.size());
  EXPECT_EQ(after.substr(0, before.size()), before) << "the journal must be appended to, not rewritten";
  EXPECT_EQ(count_op(after, 0), 1);  // one CREATE_STUDY
  EXPECT_EQ(count_op(after, 4), 9);  // each trial created once
  EXPECT_EQ(count_op(after, 3), 1);  // the metric names once
  expect_level(replay(after), stored());
}

TEST_F(LiveJournalTest, ASyncOfALevelJournalWritesNothing) {
  run(3);
  const auto size = std::filesystem::file_size(folder_.file("journal.log"));
  auto storage = open_sqlite_storage(folder_.file("study.db"));
  const StudyInfo study = *storage->find_study("fake");
  LiveJournal journal(folder_.file("journal.log"), *storage, study, {"validation_loss"}, {});
  journal.sync();
  EXPECT_EQ(std::filesystem::file_size(folder_.file("journal.log")), size);
}

TEST_F(LiveJournalTest, AJournalRemovedWhileTheStudyRunsIsWrittenAfresh) {
  run(3);
  auto storage = open_sqlite_storage(folder_.file("study.db"));
  LiveJournal journal(folder_.file("journal.log"), *storage, *storage->find_study("fake"), {"validation_loss"}, {});
  std::filesystem::remove(folder_.file("journal.log"));
  journal.sync();
  const std::string again = read_text(folder_.file("journal.log"));
  EXPECT_EQ(count_op(again, 4), 3);
  expect_level(replay(again), stored());
}

TEST_F(LiveJournalTest, TwoProcessesWritingOneJournalNeverRepeatATrial) {
  run(2);
  auto storage = open_sqlite_storage(folder_.file("study.db"));
  const StudyInfo study = *storage->find_study("fake");
  // Two writers on their own descriptors, as two processes have: flock(2) orders them.
  LiveJournal first(folder_.file("journal.log"), *storage, study, {"validation_loss"}, {});
  LiveJournal second(folder_.file("journal.log"), *storage, study, {"validation_loss"}, {});
  for (int trial = 0; trial < 3; ++trial) {
    const auto claimed =
        storage->claim_trial(study.id, current_owner(), 0, [](std::span<const FrozenTrial>, int number) {
          SampledTrial sampled;
          sampled.params = {{"lr", 0.01}, {"batch_size", std::int64_t(64)}, {"epochs", std::int64_t(3)}};
          sampled.seed = std::uint64_t(number);
          sampled.attributes["command"] = "mlptune train --seed " + std::to_string(number);
          return sampled;
        });
    (trial % 2 ? second : first).sync();
    storage->record_intermediate(claimed->claim(study.id), 1, 0.5);
    (trial % 2 ? first : second).sync();
  }
  const std::string text = read_text(folder_.file("journal.log"));
  EXPECT_EQ(count_op(text, 4), 5);
  EXPECT_EQ(count_op(text, 0), 1);
  EXPECT_EQ(count_op(text, 7), int([&] {
              int values = 0;
              for (const auto& record : stored()) values += int(record.trial.intermediate.size());
              return values;
            }()));  // each value once
  expect_level(replay(text), stored());
}

TEST_F(LiveJournalTest, FollowsTrialsStoppedAndRunAgain) {
  // running -> waiting (requeued) -> running -> complete, as Optuna replays the records.
  StudyInfo study{0, "fake", Goal::minimize, "", 1, 0.0};
  TrialRecord record;
  record.trial.number = 0;
  record.trial.params = {{"lr", 0.01}};
  record.trial.started_at = 1.7e9;
  record.trial.intermediate = {{1, 0.5}};
  record.attributes = {{"command", "mlptune train --lr 0.01"}};
  JournalState journal;
  const auto catch_up = [&] {
    const auto lines = journal_records_to_catch_up(journal, study, {"validation_loss"}, {&record, 1}, "test");
    for (const auto& line : lines) apply_journal_record(journal, line.substr(0, line.size() - 1));
    return lines.size();
  };
  EXPECT_GT(catch_up(), 0u);
  EXPECT_EQ(journal.trials.at(0).state, RunState::running);
  record.trial.state = RunState::waiting;
  record.trial.intermediate.clear();  // requeued without a checkpoint: its values dropped
  EXPECT_EQ(catch_up(), 1u);          // only the state
  EXPECT_EQ(journal.trials.at(0).state, RunState::waiting);
  record.trial.state = RunState::running;
  record.trial.intermediate = {{1, 0.5}, {2, 0.25}};
  EXPECT_EQ(catch_up(), 2u);  // epoch 2 (epoch 1 is held with its value) and the state
  record.trial.state = RunState::complete;
  record.trial.value = 0.25;
  record.trial.finished_at = 1.7e9 + 5;
  EXPECT_EQ(catch_up(), 1u);
  EXPECT_EQ(journal.trials.at(0).state, RunState::complete);
  EXPECT_EQ(catch_up(), 0u);
  record.trial.intermediate[3] = 0.125;  // a finished trial takes no more updates, so none is written
  EXPECT_EQ(catch_up(), 0u);
}

TEST_F(LiveJournalTest, RefusesAnotherStudysJournalBeforeCreatingAnything) {
  folder_.write("journal.log", R"({"op_code":0,"worker_id":"w","study_name":"other","directions":[1]})"
                               "\n");
  const std::string message = mlptune::testing::thrown_message<ConfigError>([&] { run(2); });
  EXPECT_NE(message.find("journal.log: is the Optuna journal of study 'other', not of 'fake'"), std::string::npos)
      << message;
  EXPECT_NE(message.find("give --journal (or mlptune.journal) another file, or remove this one"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(folder_.file("study.db")));
}

TEST_F(LiveJournalTest, RefusesAFileThatIsNoJournal) {
  folder_.write("journal.log", "trial,value\n0,0.5\n");
  const std::string message = mlptune::testing::thrown_message<ConfigError>([&] { run(2); });
  EXPECT_NE(message.find("journal.log:1: not the Optuna journal of study 'fake' (a line that is not JSON)"),
            std::string::npos)
      << message;
  EXPECT_EQ(read_text(folder_.file("journal.log")), "trial,value\n0,0.5\n");
}

TEST_F(LiveJournalTest, RefusesTheJournalOfAnotherDatabasesStudy) {
  run(3);
  std::filesystem::rename(folder_.file("study.db"), folder_.file("first.db"));
  StudyOptions other = options();
  other.storage_path = folder_.file("second.db");
  StudyConfig config = testing::fake_study_config(2, 3);
  config.settings.seed = 99;  // other settings, so the trials differ
  const std::string message =
      mlptune::testing::thrown_message<Error>([&] { run_study(config, other, testing::fake_parts(3, 2, 3, 0.01)); });
  EXPECT_NE(message.find("is not the journal of study 'fake' in this storage"), std::string::npos) << message;
}

TEST_F(LiveJournalTest, CutsATornLastRecordAndGoesOn) {
  run(2);
  {
    std::ofstream out(folder_.file("journal.log"), std::ios::app | std::ios::binary);
    out << R"({"op_code":7,"worker_id":"w","trial_id":0,"st)";
  }
  std::vector<std::string> warnings;
  StudyConfig config = testing::fake_study_config(3, 3);
  run_study(config, options(), testing::fake_parts(3), [&](const StudyProgress& progress) {
    if (progress.event.starts_with("warning:")) warnings.push_back(progress.event);
  });
  const std::string text = read_text(folder_.file("journal.log"));
  ASSERT_EQ(text.back(), '\n');
  expect_level(replay(text), stored());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("removed a torn last record"), std::string::npos) << warnings[0];
}

TEST_F(LiveJournalTest, AWriteOverTheFileSizeLimitLeavesTheFileWhole) {
  run(2);
  const std::filesystem::path path = folder_.file("journal.log");
  const std::string before = read_text(path);
  // In a child, as the limit is the process's: one more trial's records cannot all fit.
  const pid_t child = testing::fork_child([&] {
    auto storage = open_sqlite_storage(folder_.file("study.db"));
    const StudyInfo study = *storage->find_study("fake");
    LiveJournal journal(path, *storage, study, {"validation_loss"}, {});
    const auto claimed =
        storage->claim_trial(study.id, current_owner(), 0, [](std::span<const FrozenTrial>, int number) {
          SampledTrial trial;
          trial.params = {{"lr", 0.01}, {"batch_size", std::int64_t(64)}, {"epochs", std::int64_t(3)}};
          trial.seed = std::uint64_t(number);
          trial.attributes["command"] = std::string(200, 'x');
          return trial;
        });
    std::signal(SIGXFSZ, SIG_IGN);  // after the database's writes: the limit holds for every file
    rlimit limit{rlim_t(before.size() + 300), rlim_t(before.size() + 300)};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    const std::string message = mlptune::testing::thrown_message<StorageError>([&] { journal.sync(); });
    if (message.find("file-size limit") == std::string::npos) throw Error("unexpected message: " + message);
  });
  ASSERT_EQ(testing::wait_exit_code(child), 0);
  const std::string after = read_text(path);
  ASSERT_EQ(after.back(), '\n');
  EXPECT_GT(after.size(), before.size());  // the records that fit
  EXPECT_LE(after.size(), before.size() + 300);
  EXPECT_NO_THROW(replay(after));
}

}  // namespace
}  // namespace mlptune::tune

namespace mlptune::tune {
namespace {

TEST(JournalRecords, RefusesWhatNoSingleStudyJournalHolds) {
  const std::string study = R"({"op_code":0,"worker_id":"w","study_name":"s","directions":[1]})";
  const std::string trial = R"({"op_code":4,"worker_id":"w","study_id":0,"datetime_start":null})";
  const auto refusal = [&](const std::vector<std::string>& lines) {
    JournalState journal;
    return mlptune::testing::thrown_message<Error>([&] {
      for (const auto& line : lines) apply_journal_record(journal, line);
    });
  };
  EXPECT_EQ(refusal({"{"}), "a line that is not JSON");
  EXPECT_EQ(refusal({R"({"op_code":1e3000})"}), "a line that is not JSON");  // no double holds it
  EXPECT_EQ(refusal({trial}), "a record before the study's CREATE_STUDY");
  EXPECT_EQ(refusal({study, study}), "a second study");
  EXPECT_EQ(refusal({study, R"({"op_code":1,"worker_id":"w","study_id":0})"}), "the study deleted");
  EXPECT_EQ(refusal({study, R"({"op_code":4,"worker_id":"w","study_id":1,"datetime_start":null})"}),
            "a record of another study (study_id 1)");
  EXPECT_EQ(refusal({study, R"({"op_code":7,"worker_id":"w","trial_id":0,"step":1,"intermediate_value":0.5})"}),
            "a record of trial id 0, which no CREATE_TRIAL made");
  EXPECT_EQ(
      refusal({study, trial, R"({"op_code":7,"worker_id":"w","trial_id":0,"step":1e300,"intermediate_value":0.5})"}),
      "a record whose step is 1e+300, not an integer in [-2147483648, 2147483647]");
  EXPECT_EQ(refusal({study, trial, R"({"op_code":6,"worker_id":"w","trial_id":0,"state":7,"values":null})"}),
            "a record whose state is 7, not an integer in [0, 4]");
  EXPECT_EQ(refusal({study, R"({"op_code":12,"worker_id":"w"})"}),
            "a record with op_code 12, which Optuna's journal does not have");
  EXPECT_NE(refusal({study, R"({"op_code":5,"worker_id":"w","trial_id":0,"param_name":3})"}).find("trial id 0"),
            std::string::npos);
}

}  // namespace
}  // namespace mlptune::tune

namespace mlptune::tune {
namespace {

TEST(JournalPath, ComesFromTheStudyYamlUnlessTheCommandLineGivesOne) {
  const StudyConfig config = parse_study_config(R"(method: random
run_cap: 2
parameters: {lr: {value: 0.01}}
mlptune: {journal: runs/study.log}
)",
                                                "study.yaml");
  EXPECT_EQ(resolve_journal_path(config, StudyOptions{}), "runs/study.log");
  StudyOptions options;
  options.journal_path = "other.log";
  EXPECT_EQ(resolve_journal_path(config, options), "other.log");
  EXPECT_EQ(resolve_journal_path(
                parse_study_config("method: random\nrun_cap: 2\nparameters: {lr: {value: 0.01}}\n", "study.yaml"),
                StudyOptions{}),
            "");
}

}  // namespace
}  // namespace mlptune::tune
