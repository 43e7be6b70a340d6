// What a new user meets first, end to end through tune, report and export: the epochs trials
// train, the parameter names the file gave, warnings of parameters no trial uses, exports that
// read cleanly in pandas, PyTorch nn.Sequential files for --init-from, and the plots' log axes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "cli/cli_test_support.hpp"

namespace mlptune::testing {
namespace {

bool python_has(const std::string& modules) {
  return std::system(("python3 -c 'import " + modules + "' > /dev/null 2>&1").c_str()) == 0;
}

// The column `name` of a trials.csv row, by the header (no field here holds a quoted comma but the
// command, which is looked up by its own column).
std::string csv_cell(const std::string& csv, const std::string& name, int row) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(csv);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      if (c == ',' && !quoted) {
        cells.push_back(cell);
        cell.clear();
      } else {
        cell += c;
      }
    }
    cells.push_back(cell);
    rows.push_back(cells);
  }
  const auto& header = rows.at(0);
  const auto column = std::find(header.begin(), header.end(), name);
  if (column == header.end()) return "(no column " + name + ")";
  return rows.at(std::size_t(row + 1)).at(std::size_t(column - header.begin()));
}

class FirstHour : public Cli {
 protected:
  // Runs a shell command (python3 ...) with its output in a file of the test's folder.
  ProgramRun run_shell(const std::string& command) {
    const int status = std::system((command + " > " + path("shell.out") + " 2>&1").c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(path("shell.out"))};
  }

  // Tunes `yaml` (the iris set on the CPU), then exports it to export/.
  ProgramRun tune_and_export(const std::string& yaml) {
    std::ofstream(path("study.yaml")) << yaml << "mlptune: {dataset: iris, backend: cpu, seed: 3, " << extra_settings_
                                      << "}\n";
    const ProgramRun tune = run_mlptune("tune " + path("study.yaml") + " --storage " + path("study.db"));
    EXPECT_EQ(tune.status, 0) << tune.output;
    const ProgramRun exported = run_mlptune("export " + path("study.db") + " --out " + path("export"));
    EXPECT_EQ(exported.status, 0) << exported.output;
    return tune;
  }

  std::string extra_settings_;
};

TEST_F(FirstHour, CpuMaxEpochsIsAnnouncedStoredShownAndTrainedByTheReproducingLine) {
  extra_settings_ = "cpu_run_cap: 2, cpu_max_epochs: 2";
  const ProgramRun tune = tune_and_export(
      "method: random\nmetric: {name: validation_loss, goal: minimize}\nrun_cap: 5\n"
      "parameters:\n  epochs: {values: [4, 6]}\n  width: {value: 8}\n");
  EXPECT_NE(tune.output.find("budget on cpu: mlptune.cpu_run_cap 2 replaces run_cap 5; mlptune.cpu_max_epochs 2 "
                             "caps every trial's epochs (parameters.epochs draws up to 6)"),
            std::string::npos)
      << tune.output;

  const ProgramRun report = run_mlptune("report " + path("study.db"));
  ASSERT_EQ(report.status, 0) << report.output;
  EXPECT_TRUE(std::regex_search(report.output, std::regex(R"(2 \(drew [46]\))"))) << report.output;

  const std::string csv = read_file(path("export/trials.csv"));
  EXPECT_EQ(csv_cell(csv, "user_attrs_epochs", 0), "2") << csv;
  EXPECT_NE(csv_cell(csv, "params_epochs", 0), "2") << csv;
  const std::string command = csv_cell(csv, "user_attrs_command", 0);
  ASSERT_EQ(command.rfind("mlptune train ", 0), 0u) << csv;
  EXPECT_NE(command.find(" --epochs 2 "), std::string::npos) << command;
  const ProgramRun again = run_mlptune(command.substr(std::string("mlptune ").size()));
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("completed after 2 epochs"), std::string::npos) << again.output;
}

TEST_F(FirstHour, HyperbandsMaxIterIsAnnouncedAndStoredAsTheTrialsEpochs) {
  const ProgramRun tune = tune_and_export(
      "method: random\nmetric: {name: validation_loss, goal: minimize}\nrun_cap: 3\n"
      "early_terminate: {type: hyperband, min_iter: 1, max_iter: 3, eta: 3}\n"
      "parameters:\n  epochs: {value: 10}\n  width: {value: 8}\n");
  EXPECT_NE(tune.output.find("every trial trains up to 3 epochs, as hyperband decides (max_iter 3); the sampled "
                             "parameters.epochs is not what trials train"),
            std::string::npos)
      << tune.output;
  const std::string csv = read_file(path("export/trials.csv"));
  EXPECT_EQ(csv_cell(csv, "params_epochs", 0), "10") << csv;
  EXPECT_EQ(csv_cell(csv, "user_attrs_epochs", 0), "3") << csv;
  EXPECT_NE(csv_cell(csv, "user_attrs_command", 0).find(" --epochs 3 "), std::string::npos) << csv;
}

TEST_F(FirstHour, TheFilesParameterNamesAreKeptThroughReportAndExport) {
  tune_and_export(
      "method: random\nmetric: {name: validation_loss, goal: minimize}\nrun_cap: 2\n"
      "parameters:\n  learning_rate: {values: [0.01, 0.02]}\n  epochs: {value: 1}\n  width: {value: 8}\n");
  const ProgramRun report = run_mlptune("report " + path("study.db"));
  ASSERT_EQ(report.status, 0) << report.output;
  EXPECT_NE(report.output.find("learning_rate"), std::string::npos) << report.output;
  EXPECT_NE(report.output.find(" --lr 0.0"), std::string::npos) << report.output;  // the flag stays --lr

  const std::string csv = read_file(path("export/trials.csv"));
  EXPECT_NE(csv.find(",params_learning_rate,"), std::string::npos) << csv;
  EXPECT_EQ(csv.find("params_lr"), std::string::npos) << csv;
  const std::string journal = read_file(path("export/journal.log"));
  EXPECT_NE(journal.find("\"param_name\":\"learning_rate\""), std::string::npos) << journal;
  const auto trials = nlohmann::json::parse(read_file(path("export/trials.json")));
  EXPECT_TRUE(trials.at(0).contains("params_learning_rate")) << trials.dump();
}

TEST_F(FirstHour, AParameterNoTrialUsesIsNamedWithTheSettingThatMakesItInert) {
  const ProgramRun tune = tune_and_export(
      "method: random\nmetric: {name: validation_loss, goal: minimize}\nrun_cap: 1\n"
      "parameters:\n  epochs: {value: 1}\n  optimizer: {values: [adam, adamw]}\n"
      "  momentum: {values: [0.5, 0.9]}\n  warmup: {value: 1}\n");
  EXPECT_NE(tune.output.find("warning: parameters.momentum (line 7) has no effect: every trial uses optimizer adam or "
                             "adamw, and momentum acts only with optimizer momentum or nesterov"),
            std::string::npos)
      << tune.output;
  EXPECT_EQ(tune.output.find("parameters.warmup"), std::string::npos) << "warm-up acts under every schedule\n"
                                                                      << tune.output;
}

// pandas reads the export with the arguments the README gives: the seed as exact text, times in
// UTC, intermediate values in epoch order, and Optuna's user_attrs_* columns.
constexpr const char* kPandasCheck = R"PY(import json, re, sys
import pandas as pd
folder = sys.argv[1]
csv = pd.read_csv(folder + "/trials.csv", dtype={"user_attrs_seed": str},
                  parse_dates=["datetime_start", "datetime_complete"])
js = pd.read_json(folder + "/trials.json", dtype={"user_attrs_seed": str})
for table in (csv, js):
    for seed, command in zip(table["user_attrs_seed"], table["user_attrs_command"]):
        assert isinstance(seed, str) and re.search(r" --seed " + seed + r"( |$)", command), (seed, command)
    assert (table["user_attrs_epochs"].astype(int) == 11).all(), table["user_attrs_epochs"]
assert str(csv["datetime_start"].dt.tz) == "UTC", csv["datetime_start"]
assert str(pd.to_datetime(js["datetime_complete"]).dt.tz) == "UTC", js["datetime_complete"]
with open(folder + "/trials.json") as f:
    keys = list(json.load(f)[0]["intermediate_values"])
assert keys == [str(epoch) for epoch in range(1, 12)], keys
epochs = pd.read_csv(folder + "/intermediate.csv")
assert list(epochs["epoch"][:11]) == list(range(1, 12)), epochs
print("pandas read", len(csv), "trials")
)PY";

TEST_F(FirstHour, TheExportReadsCleanlyInPandas) {
  if (!python_has("pandas")) GTEST_SKIP() << "python3 with pandas is not installed (pip install pandas)";
  tune_and_export(
      "method: random\nmetric: {name: validation_loss, goal: minimize}\nrun_cap: 2\n"
      "parameters:\n  epochs: {value: 11}\n  width: {value: 8}\n  lr: {values: [0.01, 0.02]}\n");
  std::ofstream(path("check.py")) << kPandasCheck;
  const ProgramRun check = run_shell("python3 " + path("check.py") + " " + path("export"));
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_NE(check.output.find("pandas read 2 trials"), std::string::npos) << check.output;
}

// The state_dict of nn.Sequential(Linear(4, 16), ReLU(), Linear(16, 3)), written with the
// safetensors numpy API under the names PyTorch gives it (0.weight, 0.bias, 2.weight, 2.bias),
// and the same values under mlptune's names.
constexpr const char* kSequentialFiles = R"PY(import sys
import numpy as np
from safetensors.numpy import save_file
rng = np.random.default_rng(7)
shapes = {"0.weight": (16, 4), "0.bias": (16,), "2.weight": (3, 16), "2.bias": (3,)}
tensors = {name: (rng.standard_normal(shape) * 0.3).astype(np.float32) for name, shape in shapes.items()}
save_file(tensors, sys.argv[1])
layers = {"layers.0." + n.split(".")[1] if n[0] == "0" else "layers.1." + n.split(".")[1]: t for n, t in tensors.items()}
save_file(layers, sys.argv[2])
)PY";

TEST_F(FirstHour, InitFromTakesAPyTorchSequentialStateDict) {
  if (!python_has("safetensors.numpy, numpy")) GTEST_SKIP() << "python3 with safetensors and numpy is not installed";
  std::ofstream(path("write.py")) << kSequentialFiles;
  const ProgramRun write = run_shell("python3 " + path("write.py") + " " + path("sequential.safetensors") + " " +
                                     path("layers.safetensors"));
  ASSERT_EQ(write.status, 0) << write.output;
  const std::string train = "train --dataset iris --hidden 16 --epochs 2 --backend cpu --init-from ";
  const ProgramRun sequential = run_mlptune(train + path("sequential.safetensors"));
  ASSERT_EQ(sequential.status, 0) << sequential.output;
  const ProgramRun layers = run_mlptune(train + path("layers.safetensors"));
  ASSERT_EQ(layers.status, 0) << layers.output;
  const auto results = [](const std::string& output) {  // the lines of losses, without speeds and times
    return std::regex_replace(output, std::regex(R"(  [0-9,.]+ samples/s.*|in [0-9.]+s)"), "");
  };
  EXPECT_EQ(results(sequential.output), results(layers.output));

  const ProgramRun mismatch = run_mlptune("train --dataset iris --hidden 8 --epochs 1 --backend cpu --init-from " +
                                          path("sequential.safetensors"));
  EXPECT_EQ(mismatch.status, 2) << mismatch.output;
  EXPECT_NE(mismatch.output.find("the first that differs is '0.weight' [16, 4], where the model's layers.0.weight "
                                 "is [8, 4]"),
            std::string::npos)
      << mismatch.output;
}

TEST_F(FirstHour, PlotsUseALogAxisOnlyForLogDistributions) {
  if (!python_has("numpy, matplotlib")) GTEST_SKIP() << "python3 with numpy and matplotlib is not installed";
  // weight_decay spans four decades but is uniform; lr is log-distributed.
  tune_and_export(
      "method: random\nmetric: {name: validation_loss, goal: minimize}\nrun_cap: 4\n"
      "parameters:\n  epochs: {value: 1}\n  width: {value: 8}\n"
      "  weight_decay: {values: [0.0001, 0.001, 0.01, 1.0]}\n"
      "  lr: {distribution: log_uniform_values, min: 0.001, max: 0.01}\n");
  std::ofstream(path("axes.py"))
      << "import sys\nsys.path.insert(0, '" << MLPTUNE_SOURCE_DIR << "/experiments')\n"
      << "import plot\nstudy = plot.Study(sys.argv[1])\n"
      << "print('log:', sorted(study.log_parameters))\n"
      << "print('categories:', [n for n in ('lr', 'weight_decay') if study.is_categorical(n)])\n";
  const ProgramRun check = run_shell("python3 " + path("axes.py") + " " + path("export"));
  ASSERT_EQ(check.status, 0) << check.output;
  EXPECT_NE(check.output.find("log: ['lr']"), std::string::npos) << check.output;
  // Four trials of a continuous distribution are points on an axis, not four categories.
  EXPECT_NE(check.output.find("categories: ['weight_decay']"), std::string::npos) << check.output;
}

}  // namespace
}  // namespace mlptune::testing
