// The shared Scheduler suite (none, median, ASHA, Hyperband) and each scheduler's own contract:
// the Hyperband table for R = 81, eta = 3, ASHA's top-1/eta promotions, a hand-worked median case.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "mlptune/error.hpp"
#include "tune/scheduler_test_support.hpp"

namespace mlptune::tune {
namespace {

using testing::SchedulerSimulation;

constexpr int kRunCap = 30;
constexpr int kEpochs = 27;

// Trial quality is a fixed shuffle of the numbers; every trial improves with epochs but the order
// between trials never changes, so the truly best trial is known.
struct Landscape {
  explicit Landscape(Goal goal, unsigned seed = 7) : goal(goal), quality(kRunCap) {
    std::iota(quality.begin(), quality.end(), 0);
    std::shuffle(quality.begin(), quality.end(), std::mt19937(seed));
  }
  double operator()(int number, int epoch) const {
    const double loss = quality[std::size_t(number)] + 1.0 / epoch;
    return goal == Goal::minimize ? loss : -loss;
  }
  int best_number() const { return int(std::min_element(quality.begin(), quality.end()) - quality.begin()); }
  Goal goal;
  std::vector<int> quality;
};

struct NoPruningFactory {
  static std::unique_ptr<Scheduler> make(Goal) { return make_no_pruning(); }
};
struct MedianFactory {
  static std::unique_ptr<Scheduler> make(Goal goal) { return make_median_pruner(goal, 5, 0); }
};
struct AshaFactory {
  static std::unique_ptr<Scheduler> make(Goal goal) { return make_asha(goal, 1, kEpochs, 3.0); }
};
struct HyperbandFactory {
  static std::unique_ptr<Scheduler> make(Goal goal) {
    return make_hyperband(goal, kEpochs, 3.0, hyperband_s_max(kEpochs, 1, 3.0), kRunCap);
  }
};

template <typename Factory>
class SchedulerTest : public ::testing::Test {};
using SchedulerTypes = ::testing::Types<NoPruningFactory, MedianFactory, AshaFactory, HyperbandFactory>;
TYPED_TEST_SUITE(SchedulerTest, SchedulerTypes);

TYPED_TEST(SchedulerTest, EveryTrialEndsAndTheBestOneCompletesForBothGoals) {
  for (Goal goal : {Goal::minimize, Goal::maximize}) {
    const auto scheduler = TypeParam::make(goal);
    const Landscape landscape(goal);
    SchedulerSimulation simulation(*scheduler, kRunCap, kEpochs, landscape);
    const auto& trials = simulation.run();
    ASSERT_EQ(trials.size(), std::size_t(kRunCap));
    int completed = 0;
    for (const auto& trial : trials) {
      EXPECT_TRUE(trial.state == RunState::complete || trial.state == RunState::pruned) << trial.number;
      completed += trial.state == RunState::complete;
    }
    EXPECT_GE(completed, 1);
    const auto& best = trials[std::size_t(landscape.best_number())];
    EXPECT_EQ(best.state, RunState::complete) << scheduler->name() << " pruned the best trial";
    EXPECT_EQ(best.intermediate.size(), std::size_t(kEpochs));
  }
}

TYPED_TEST(SchedulerTest, AnswersOnlyFromTheHistory) {
  const auto first = TypeParam::make(Goal::minimize);
  const auto second = TypeParam::make(Goal::minimize);
  const Landscape landscape(Goal::minimize, 11);
  SchedulerSimulation run_a(*first, kRunCap, kEpochs, landscape);
  SchedulerSimulation run_b(*second, kRunCap, kEpochs, landscape);
  const auto& a = run_a.run();
  const auto& b = run_b.run();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].state, b[i].state);
    EXPECT_EQ(a[i].intermediate, b[i].intermediate);
  }
}

// --- Hyperband --------------------------------------------------------------------------------

using Table = std::vector<std::vector<std::pair<int, int>>>;  // per bracket: (configurations, epochs)

Table as_table(const std::vector<HyperbandBracket>& brackets) {
  Table table;
  for (const auto& bracket : brackets) {
    table.emplace_back();
    for (const auto& rung : bracket.rungs) table.back().emplace_back(rung.configurations, rung.epochs);
  }
  return table;
}

const Table kReferenceTable = {
    // REFERENCE.md, Li et al. 2018 Table 1
    {{81, 1}, {27, 3}, {9, 9}, {3, 27}, {1, 81}},
    {{34, 3}, {11, 9}, {3, 27}, {1, 81}},
    {{15, 9}, {5, 27}, {1, 81}},
    {{8, 27}, {2, 81}},
    {{5, 81}},
};

TEST(Hyperband, BracketsForR81Eta3MatchTheTable) {
  EXPECT_EQ(hyperband_s_max(81, 1, 3.0), 4);
  EXPECT_EQ(as_table(hyperband_brackets(81, 3.0, 4)), kReferenceTable);
}

TEST(Hyperband, ARunOfOneCycleTrainsExactlyTheTable) {
  const auto scheduler = make_hyperband(Goal::minimize, 81, 3.0, 4, 143);
  std::vector<int> quality(143);
  std::iota(quality.begin(), quality.end(), 0);
  std::shuffle(quality.begin(), quality.end(), std::mt19937(3));
  SchedulerSimulation simulation(*scheduler, 143, 81,
                                 [&](int number, int epoch) { return quality[std::size_t(number)] + 10.0 / epoch; });
  const auto& trials = simulation.run();
  int first = 0;
  for (const auto& bracket : kReferenceTable) {
    const int last = first + bracket.front().first;
    for (const auto& [configurations, epochs] : bracket)
      EXPECT_EQ(simulation.reached(epochs, first, last), configurations)
          << "bracket of trials " << first << ".." << last - 1 << " at " << epochs << " epochs";
    // Successive halving keeps the best: the bracket's winner is its best-quality trial.
    const auto winner = std::min_element(quality.begin() + first, quality.begin() + last) - quality.begin();
    EXPECT_EQ(trials[std::size_t(winner)].state, RunState::complete);
    first = last;
  }
  EXPECT_EQ(std::count_if(trials.begin(), trials.end(), [](auto& t) { return t.state == RunState::complete; }), 10);
}

TEST(Hyperband, AWAndBStyleSettingMapsOntoBrackets) {
  EarlyTerminate settings;
  settings.type = PrunerKind::hyperband;
  settings.min_iter = 3;
  settings.max_iter = 27;
  const auto scheduler = make_scheduler(settings, Goal::minimize, 100, 10);
  EXPECT_EQ(scheduler->name(), "hyperband");
  EXPECT_EQ(scheduler->max_epochs(), 27);
  EXPECT_EQ(hyperband_s_max(27, 3, 3.0), 2);
  settings.eta = 1.0;
  EXPECT_THROW(make_scheduler(settings, Goal::minimize, 100, 10), ConfigError);
}

// --- ASHA ---------------------------------------------------------------------------------------

TEST(Asha, PromotesExactlyTheTopThirdWhenBetterTrialsCameFirst) {
  const auto scheduler = make_asha(Goal::minimize, 1, 9, 3.0);  // rungs at 1 and 3 epochs
  SchedulerSimulation simulation(*scheduler, 9, 9, [](int number, int epoch) { return number + 1.0 / epoch; });
  const auto& trials = simulation.run();
  EXPECT_EQ(simulation.reached(1), 9);
  EXPECT_EQ(simulation.reached(3), 3);
  EXPECT_EQ(simulation.reached(9), 1);
  for (int number : {0, 1, 2}) EXPECT_TRUE(trials[std::size_t(number)].intermediate.count(3)) << number;
  EXPECT_EQ(trials[0].state, RunState::complete);
}

TEST(Asha, EveryTrialInTheTopThirdOfARungIsPromotedWhateverTheOrder) {
  for (unsigned seed = 1; seed <= 5; ++seed) {
    const auto scheduler = make_asha(Goal::maximize, 1, 9, 3.0);
    std::vector<int> quality(27);
    std::iota(quality.begin(), quality.end(), 0);
    std::shuffle(quality.begin(), quality.end(), std::mt19937(seed));
    SchedulerSimulation simulation(*scheduler, 27, 9,
                                   [&](int number, int epoch) { return quality[std::size_t(number)] - 1.0 / epoch; });
    const auto& trials = simulation.run();
    for (int rung : {1, 3}) {
      std::vector<std::pair<double, int>> at_rung;
      for (const auto& trial : trials)
        if (trial.intermediate.count(rung)) at_rung.emplace_back(-trial.intermediate.at(rung), trial.number);
      std::sort(at_rung.begin(), at_rung.end());
      const std::size_t top = at_rung.size() / 3;
      for (std::size_t i = 0; i < top; ++i)
        EXPECT_TRUE(trials[std::size_t(at_rung[i].second)].intermediate.count(rung * 3))
            << "seed " << seed << ": trial " << at_rung[i].second << " is in the top third at " << rung;
    }
  }
}

// --- Median -------------------------------------------------------------------------------------

FrozenTrial trial_with(int number, RunState state, std::map<int, double> values) {
  FrozenTrial trial;
  trial.number = number;
  trial.state = state;
  trial.intermediate = std::move(values);
  return trial;
}

std::vector<FrozenTrial> completed_history(const std::vector<double>& values_at_two) {
  std::vector<FrozenTrial> trials;
  for (double value : values_at_two)
    trials.push_back(trial_with(int(trials.size()), RunState::complete, {{1, 2.0}, {2, value}}));
  return trials;
}

TEST(MedianPruner, HandWorkedExampleWithAnOddNumberOfCompletedTrials) {
  // Median at epoch 2 of {0.5, 0.7, 0.9, 0.4, 0.8} is 0.7. Optuna compares the trial's best value
  // so far (not only this epoch's) with it.
  auto trials = completed_history({0.5, 0.7, 0.9, 0.4, 0.8});
  const auto pruner = make_median_pruner(Goal::minimize, 5, 0);
  trials.push_back(trial_with(5, RunState::running, {{1, 0.75}, {2, 0.72}}));
  EXPECT_EQ(pruner->judge(trials.back(), 2, trials), Decision::stop);  // best 0.72 > 0.7
  trials.back().intermediate = {{1, 0.69}, {2, 0.72}};
  EXPECT_EQ(pruner->judge(trials.back(), 2, trials), Decision::proceed);  // best 0.69 < 0.7
  trials.back().intermediate = {{1, 0.75}, {2, 0.70}};
  EXPECT_EQ(pruner->judge(trials.back(), 2, trials), Decision::proceed);  // equal: not worse
}

TEST(MedianPruner, EvenCountsInterpolateAndStartupAndWarmupProtect) {
  auto trials = completed_history({0.5, 0.7, 0.9, 0.4});                    // median (0.5 + 0.7) / 2 = 0.6
  trials.push_back(trial_with(4, RunState::pruned, {{1, 0.1}, {2, 0.1}}));  // pruned trials do not count
  trials.push_back(trial_with(5, RunState::running, {{1, 0.7}, {2, 0.61}}));
  EXPECT_EQ(make_median_pruner(Goal::minimize, 4, 0)->judge(trials.back(), 2, trials), Decision::stop);
  EXPECT_EQ(make_median_pruner(Goal::minimize, 5, 0)->judge(trials.back(), 2, trials), Decision::proceed);
  EXPECT_EQ(make_median_pruner(Goal::minimize, 4, 2)->judge(trials.back(), 2, trials), Decision::proceed);
  EXPECT_EQ(make_median_pruner(Goal::minimize, 4, 1)->judge(trials.back(), 2, trials), Decision::stop);
  trials.back().intermediate = {{1, 0.7}, {2, 0.59}};
  EXPECT_EQ(make_median_pruner(Goal::minimize, 4, 0)->judge(trials.back(), 2, trials), Decision::proceed);
}

TEST(MedianPruner, MaximizeKeepsTrialsAboveTheMedian) {
  auto trials = completed_history({0.5, 0.7, 0.9, 0.4, 0.8});  // accuracy-like: higher is better
  const auto pruner = make_median_pruner(Goal::maximize, 5, 0);
  trials.push_back(trial_with(5, RunState::running, {{1, 0.6}, {2, 0.65}}));
  EXPECT_EQ(pruner->judge(trials.back(), 2, trials), Decision::stop);
  trials.back().intermediate = {{1, 0.6}, {2, 0.75}};
  EXPECT_EQ(pruner->judge(trials.back(), 2, trials), Decision::proceed);
  trials.back().intermediate = {{1, std::nan("")}, {2, std::nan("")}};
  EXPECT_EQ(pruner->judge(trials.back(), 2, trials), Decision::stop);  // Optuna prunes all-NaN trials
}

}  // namespace
}  // namespace mlptune::tune
