// ASHA's decision at a rung against Optuna's SuccessiveHalvingPruner on the same values: with at
// least eta trials at the rung, a trial goes on exactly when Optuna lets it (the top floor(n/eta),
// ties aside). With fewer, the two differ by design: Optuna lets the best so far through, while
// ASHA (Li et al. 2020) pauses every trial until the rung holds eta of them, and promotes later.
// mlptune's epoch e is Optuna's step e here, and Optuna's min_resource is min_iter.
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
optuna.logging.set_verbosity(optuna.logging.ERROR)
answers = []
for case in json.load(open(sys.argv[1])):
    pruner = optuna.pruners.SuccessiveHalvingPruner(
        min_resource=case["min_iter"], reduction_factor=case["eta"], min_early_stopping_rate=0)
    study = optuna.create_study(direction=case["direction"], pruner=pruner)
    for value in case["others"] + [case["judged"]]:  # each reaches the rung in turn; the judged last
        trial = study.ask()
        trial.report(math.nan if value is None else value, case["min_iter"])
        goes_on = not trial.should_prune()
    answers.append(goes_on)
json.dump(answers, open(sys.argv[2], "w"))
)";

FrozenTrial at_rung(int number, int epoch, double value) {
  FrozenTrial trial;
  trial.number = number;
  trial.state = RunState::running;
  trial.intermediate[epoch] = value;
  return trial;
}

TEST(AshaVsOptuna, AtARungWithEtaTrialsTheDecisionIsOptunas) {
  if (!mlptune::testing::optuna_installed())
    GTEST_SKIP() << "python3 with optuna is not installed (pip install optuna), so there is nothing to compare with";
  std::mt19937 random(20261202);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  json cases = json::array();
  std::vector<bool> ours;
  std::vector<int> with_value;  // trials with a value at the rung, the judged one included
  for (int c = 0; c < 300; ++c) {
    const Goal goal = c % 2 == 0 ? Goal::minimize : Goal::maximize;
    const int eta = 2 + c / 2 % 3;
    const int min_iter = 1 + c / 6 % 3;
    const int others = int(random() % 12);
    json case_json = {{"direction", goal == Goal::minimize ? "minimize" : "maximize"},
                      {"eta", eta},
                      {"min_iter", min_iter},
                      {"others", json::array()}};
    std::vector<FrozenTrial> trials;
    int counted = 1;
    for (int t = 0; t < others; ++t) {
      const bool nan = uniform(random) < 0.1;  // a NaN at the rung: Optuna prunes it, ASHA ranks it nowhere
      const double value = nan ? std::nan("") : uniform(random);
      case_json["others"].push_back(nan ? json() : json(value));
      trials.push_back(at_rung(t, min_iter, value));
      counted += nan ? 0 : 1;
    }
    const double judged_value = uniform(random);
    case_json["judged"] = judged_value;
    const FrozenTrial judged = at_rung(others, min_iter, judged_value);
    trials.push_back(judged);
    cases.push_back(case_json);
    const auto asha = make_asha(goal, min_iter, min_iter * eta * eta + 1, double(eta));
    ours.push_back(asha->judge(judged, min_iter, trials) == Decision::proceed);
    with_value.push_back(counted);
  }
  const std::optional<json> theirs = mlptune::testing::replay_in_optuna(kOptunaReplay, cases);
  ASSERT_TRUE(theirs);
  ASSERT_EQ(theirs->size(), ours.size());
  int compared = 0, went_on = 0, led_early = 0;
  for (std::size_t c = 0; c < ours.size(); ++c) {
    const int eta = cases[c]["eta"].get<int>();
    const bool optuna_goes_on = (*theirs)[c].get<bool>();
    if (with_value[c] >= eta) {
      EXPECT_EQ(ours[c], optuna_goes_on) << "case " << c << ": " << cases[c].dump();
      ++compared;
      went_on += ours[c] ? 1 : 0;
    } else {
      EXPECT_FALSE(ours[c]) << "fewer than eta trials at the rung: ASHA waits; case " << c;
      led_early += optuna_goes_on ? 1 : 0;
    }
  }
  EXPECT_GT(compared, 150) << "most cases have a full rung";
  EXPECT_GT(went_on, 20) << "the cases exercise going on";
  EXPECT_LT(went_on, compared - 20) << "and stopping";
  EXPECT_GT(led_early, 0) << "Optuna lets the early leader through where ASHA waits";
}

}  // namespace
}  // namespace mlptune::tune
