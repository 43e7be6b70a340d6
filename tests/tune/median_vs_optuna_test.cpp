// The median pruner decides as Optuna's MedianPruner for the same histories: random studies
// (either goal, missing and NaN values, startup and warm-up settings), each decision made by
// mlptune here and by Optuna in Python on the same trials. mlptune's epochs are 1-based and
// Optuna's steps, as a PyTorch loop reports them, 0-based: epoch e is step e - 1.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <vector>

#include "mlptune/engine.hpp"
#include "mlptune/tune/scheduler.hpp"
#include "optuna_replay.hpp"

namespace mlptune::tune {
namespace {

using json = nlohmann::json;

constexpr const char* kOptunaReplay = R"(import json, math, sys, optuna
from optuna.trial import TrialState, create_trial
optuna.logging.set_verbosity(optuna.logging.ERROR)
decisions = []
for case in json.load(open(sys.argv[1])):
    study = optuna.create_study(direction=case["direction"])
    def values(history):
        return {int(epoch) - 1: (math.nan if value is None else value) for epoch, value in history.items()}
    for history in case["completed"]:
        study.add_trial(create_trial(state=TrialState.COMPLETE, value=0.0, intermediate_values=values(history)))
    judged = create_trial(state=TrialState.RUNNING, intermediate_values=values(case["judged"]))
    pruner = optuna.pruners.MedianPruner(n_startup_trials=case["startup"], n_warmup_steps=case["warmup"])
    decisions.append(bool(pruner.prune(study, judged)))
json.dump(decisions, open(sys.argv[2], "w"))
)";

// A history of epochs 1..last, each present with probability 0.85 and NaN with 0.05 (JSON null).
std::map<int, double> random_history(std::mt19937& random, int last) {
  std::uniform_real_distribution<double> value(0.0, 1.0);
  std::map<int, double> history;
  for (int epoch = 1; epoch <= last; ++epoch) {
    const double draw = value(random);
    if (draw < 0.15) continue;
    history[epoch] = draw < 0.2 ? std::nan("") : value(random);
  }
  return history;
}

json to_json(const std::map<int, double>& history) {
  json out = json::object();
  for (const auto& [epoch, value] : history) out[std::to_string(epoch)] = std::isnan(value) ? json() : json(value);
  return out;
}

TEST(MedianVsOptuna, EveryDecisionIsOptunasOnTheSameHistories) {
  if (!mlptune::testing::optuna_installed())
    GTEST_SKIP() << "python3 with optuna is not installed (pip install optuna), so there is nothing to compare with";
  std::mt19937 random(20261201);
  json cases = json::array();
  std::vector<bool> ours;
  for (int c = 0; c < 400; ++c) {
    const Goal goal = c % 2 == 0 ? Goal::minimize : Goal::maximize;
    const int startup = std::vector<int>{0, 1, 3, 5}[std::size_t(c / 2 % 4)];
    const int warmup = c / 8 % 3;
    const int completed = int(random() % 9);
    std::vector<FrozenTrial> trials;
    json case_json = {{"direction", goal == Goal::minimize ? "minimize" : "maximize"},
                      {"startup", startup},
                      {"warmup", warmup},
                      {"completed", json::array()}};
    for (int t = 0; t < completed; ++t) {
      FrozenTrial trial;
      trial.number = t;
      trial.state = RunState::complete;
      trial.value = 0.0;
      trial.intermediate = random_history(random, 1 + int(random() % 6));
      case_json["completed"].push_back(to_json(trial.intermediate));
      trials.push_back(trial);
    }
    FrozenTrial judged;
    judged.number = completed;
    judged.state = RunState::running;
    const int epoch = 1 + int(random() % 6);
    judged.intermediate = random_history(random, epoch - 1);
    judged.intermediate[epoch] = std::uniform_real_distribution<double>(0.0, 1.0)(random);  // the epoch judged
    case_json["judged"] = to_json(judged.intermediate);
    trials.push_back(judged);
    cases.push_back(case_json);
    ours.push_back(make_median_pruner(goal, startup, warmup)->judge(judged, epoch, trials) == Decision::stop);
  }
  const std::optional<json> replayed = mlptune::testing::replay_in_optuna(kOptunaReplay, cases);
  ASSERT_TRUE(replayed);
  const json& theirs = *replayed;
  ASSERT_EQ(theirs.size(), ours.size());
  int stops = 0;
  for (std::size_t c = 0; c < ours.size(); ++c) {
    EXPECT_EQ(ours[c], theirs[c].get<bool>()) << "case " << c << ": " << cases[c].dump();
    stops += ours[c] ? 1 : 0;
  }
  EXPECT_GT(stops, 40) << "the cases exercise pruning";
  EXPECT_LT(stops, 360) << "and not pruning";
}

}  // namespace
}  // namespace mlptune::tune
