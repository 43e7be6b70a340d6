// Exports of a study: the CSV/JSON tables, and the Optuna journal loaded by Optuna itself.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mlptune/tune/report.hpp"
#include "tune/study_test_support.hpp"

namespace mlptune::tune {
namespace {

using nlohmann::json;
using testing::TempFolder;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

int line_count(const std::string& text) {
  return int(std::count(text.begin(), text.end(), '\n'));
}

// A finished study with complete, pruned and failed trials, integer, real and categorical params.
class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StudyConfig config = testing::fake_study_config(14, 4);
    config.early_terminate.type = PrunerKind::median;
    config.early_terminate.startup_trials = 3;
    config.space.parameters.push_back({"activation", categorical({std::string("relu"), std::string("tanh")}), 4});
    StudyOptions options;
    options.storage_path = folder_.file("study.db");
    StudyParts parts = testing::fake_parts(4, 1, 1, /*max_lr=*/1.0);
    parts.sampler = std::make_unique<WithActivation>(std::move(parts.sampler));
    run_study(config, options, std::move(parts));
    storage_ = open_sqlite_storage(folder_.file("study.db"));
    records_ = storage_->trial_records(storage_->find_study("fake")->id);
  }

  static Distribution categorical(std::vector<ParamValue> values) {
    Distribution distribution;
    distribution.kind = DistributionKind::categorical;
    distribution.values = std::move(values);
    return distribution;
  }

  class WithActivation final : public Sampler {
   public:
    explicit WithActivation(std::unique_ptr<Sampler> inner) : inner_(std::move(inner)) {}
    Params sample(const SearchSpace& space, std::span<const FrozenTrial> trials, Goal goal, int number) override {
      Params params = inner_->sample(space, trials, goal, number);
      params["activation"] = std::string(number % 2 ? "tanh" : "relu");
      return params;
    }

   private:
    std::unique_ptr<Sampler> inner_;
  };

  TempFolder folder_;
  std::unique_ptr<Storage> storage_;
  std::vector<TrialRecord> records_;
};

TEST_F(ExportTest, WritesTablesWithOptunasColumns) {
  export_study(*storage_, "fake", folder_.file("export"));
  const std::string csv = read_text(folder_.file("export/trials.csv"));
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "number,value,datetime_start,datetime_complete,duration,params_activation,params_batch_size,params_epochs,"
            "params_lr,user_attrs_command,user_attrs_epochs,user_attrs_seed,state,message");
  EXPECT_EQ(line_count(csv), int(records_.size()) + 1);
  EXPECT_NE(csv.find(",PRUNED,"), std::string::npos);
  EXPECT_NE(csv.find(",FAIL,\"diverged at epoch 1, step 10\"\n"), std::string::npos);  // quoted: it holds a comma

  const json trials = json::parse(read_text(folder_.file("export/trials.json")));
  ASSERT_EQ(trials.size(), records_.size());
  for (std::size_t i = 0; i < records_.size(); ++i) {
    EXPECT_EQ(trials[i]["number"], records_[i].trial.number);
    EXPECT_EQ(trials[i]["params_activation"], std::get<std::string>(records_[i].trial.params.at("activation")));
    if (records_[i].trial.value) EXPECT_DOUBLE_EQ(trials[i]["value"].get<double>(), *records_[i].trial.value);
    EXPECT_EQ(trials[i]["user_attrs_seed"], std::to_string(records_[i].trial.seed));
    EXPECT_EQ(trials[i]["user_attrs_command"], records_[i].attributes.at("command"));
    EXPECT_EQ(trials[i]["user_attrs_epochs"], records_[i].attributes.at("epochs"));
    EXPECT_TRUE(trials[i]["datetime_start"].get<std::string>().ends_with("+00:00")) << trials[i]["datetime_start"];
  }
  int intermediate_rows = 0;
  for (const auto& record : records_) intermediate_rows += int(record.trial.intermediate.size());
  const std::string intermediate = read_text(folder_.file("export/intermediate.csv"));
  EXPECT_EQ(intermediate.substr(0, intermediate.find('\n')), "number,epoch,value,state");
  EXPECT_EQ(line_count(intermediate), intermediate_rows + 1);
}

TEST_F(ExportTest, JournalLoadsInOptunaWithTheSameTrials) {
  if (std::system("python3 -c 'import optuna' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with optuna is not installed (pip install optuna) so the journal cannot be checked";
  export_study(*storage_, "", folder_.file("export"));
  const auto script = folder_.file("load_journal.py");
  std::ofstream(script) << R"(import json, sys, optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.load_study(study_name=sys.argv[2], storage=JournalStorage(JournalFileBackend(sys.argv[1])))
print(json.dumps({"direction": study.direction.name, "trials": [{"number": t.number, "state": t.state.name,
  "value": t.value, "params": t.params, "intermediate": {str(k): v for k, v in t.intermediate_values.items()},
  "seed": t.user_attrs.get("seed")} for t in study.trials]}))
)";
  const auto output = folder_.file("loaded.json");
  const std::string command =
      "python3 " + script.string() + " " + folder_.file("export/journal.log").string() + " fake > " + output.string();
  ASSERT_EQ(std::system(command.c_str()), 0) << "Optuna could not load the journal";
  const json loaded = json::parse(read_text(output));
  EXPECT_EQ(loaded["direction"], "MINIMIZE");
  const json& trials = loaded["trials"];
  ASSERT_EQ(trials.size(), records_.size());
  const std::map<RunState, std::string> names = {
      {RunState::complete, "COMPLETE"}, {RunState::pruned, "PRUNED"}, {RunState::failed, "FAIL"}};
  for (std::size_t i = 0; i < records_.size(); ++i) {
    const FrozenTrial& trial = records_[i].trial;
    EXPECT_EQ(trials[i]["number"], trial.number);
    EXPECT_EQ(trials[i]["state"], names.at(trial.state));
    if (trial.value)
      EXPECT_DOUBLE_EQ(trials[i]["value"].get<double>(), *trial.value);
    else
      EXPECT_TRUE(trials[i]["value"].is_null());
    EXPECT_DOUBLE_EQ(trials[i]["params"]["lr"].get<double>(), std::get<double>(trial.params.at("lr")));
    EXPECT_EQ(trials[i]["params"]["batch_size"].get<std::int64_t>(),
              std::get<std::int64_t>(trial.params.at("batch_size")));
    EXPECT_EQ(trials[i]["params"]["activation"], std::get<std::string>(trial.params.at("activation")));
    EXPECT_EQ(trials[i]["intermediate"].size(), trial.intermediate.size());
    EXPECT_EQ(trials[i]["seed"], std::to_string(trial.seed));
  }
}

TEST_F(ExportTest, ReportRanksCompleteTrialsAndShowsTheBestCommand) {
  const StudyReport report = make_report(*storage_, "fake", 5);
  ASSERT_TRUE(report.best.has_value());
  EXPECT_EQ(report.complete + report.pruned + report.failed, int(records_.size()));
  EXPECT_LE(report.leaderboard.size(), 5u);
  for (const auto& record : records_)
    if (record.trial.state == RunState::complete) EXPECT_LE(*report.best->trial.value, *record.trial.value);
  for (std::size_t i = 1; i < report.leaderboard.size(); ++i)
    if (report.leaderboard[i].trial.state == report.leaderboard[i - 1].trial.state)
      EXPECT_LE(*report.leaderboard[i - 1].trial.value, *report.leaderboard[i].trial.value);
  EXPECT_EQ(report.best_command, report.best->attributes.at("command"));
  const std::string text = format_report(report);
  EXPECT_NE(text.find(report.best_command), std::string::npos);
  EXPECT_NE(text.find("activation"), std::string::npos);
  EXPECT_THROW(make_report(*storage_, "missing", 5), StorageError);
}

}  // namespace
}  // namespace mlptune::tune
