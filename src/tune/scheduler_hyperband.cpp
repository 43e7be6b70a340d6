// Hyperband: brackets of successive halving, each starting many trials at few epochs or few trials
// at many; a bracket's rung is decided once every trial in it has reported there.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "mlptune/error.hpp"
#include "mlptune/tune/scheduler.hpp"
#include "tune/scheduler_ranking.hpp"

namespace mlptune::tune {
namespace {

// One bracket of one Hyperband cycle: its trial numbers and rungs.
struct BracketInstance {
  std::vector<int> members;      // trial numbers, capped by run_cap
  std::vector<int> rung_epochs;  // r_0 .. r_s
};

// Who entered each rung, as far as the bracket's history decides it.
struct BracketProgress {
  std::vector<std::vector<int>> entered;  // entered[i]: trials that train to rung i (entered[0]: all members)
  int decided_rungs = 0;                  // rungs whose survivors are known
};

class Hyperband final : public Scheduler {
 public:
  Hyperband(Goal goal, int max_iter, double eta, int s_max, int run_cap)
      : goal_(goal),
        max_iter_(max_iter),
        eta_(eta),
        run_cap_(run_cap),
        brackets_(hyperband_brackets(max_iter, eta, s_max)) {
    for (const auto& bracket : brackets_) cycle_size_ += bracket.rungs.front().configurations;
  }

  std::string name() const override { return "hyperband"; }
  int max_epochs() const override { return max_iter_; }
  int trials_for_a_full_run() const override { return brackets_.front().rungs.front().configurations; }

  Decision judge(const FrozenTrial& trial, int epoch, std::span<const FrozenTrial> trials) const override {
    const BracketInstance bracket = bracket_of(trial.number);
    const auto rung = std::find(bracket.rung_epochs.begin(), bracket.rung_epochs.end() - 1, epoch);
    if (rung == bracket.rung_epochs.end() - 1) return Decision::proceed;  // not a decision point
    const auto rung_index = std::size_t(rung - bracket.rung_epochs.begin());
    const BracketProgress progress = progress_of(bracket, index_by_number(trials));
    if (progress.decided_rungs <= int(rung_index)) return Decision::pause;
    const auto& survivors = progress.entered[rung_index + 1];
    return std::count(survivors.begin(), survivors.end(), trial.number) ? Decision::proceed : Decision::stop;
  }

  std::optional<Promotion> promotion(std::span<const FrozenTrial> trials) const override {
    std::optional<Promotion> found;
    visit_decided_paused(trials, [&](int number, int epoch, bool survives) {
      if (survives && !found) found = Promotion{number, epoch};
    });
    return found;
  }

  std::vector<int> never_promoted(std::span<const FrozenTrial> trials) const override {
    std::vector<int> losers;
    visit_decided_paused(trials, [&](int number, int, bool survives) {
      if (!survives) losers.push_back(number);
    });
    return losers;
  }

 private:
  using TrialIndex = std::map<int, const FrozenTrial*>;

  static TrialIndex index_by_number(std::span<const FrozenTrial> trials) {
    TrialIndex index;
    for (const FrozenTrial& trial : trials) index[trial.number] = &trial;
    return index;
  }

  // Trial numbers run through the brackets in table order (s_max first), cycle after cycle.
  BracketInstance bracket_of(int number) const {
    const int cycle_start = number / cycle_size_ * cycle_size_;
    int start = cycle_start;
    for (const auto& bracket : brackets_) {
      const int size = bracket.rungs.front().configurations;
      if (number < start + size) return instance(bracket, start, size);
      start += size;
    }
    return instance(brackets_.back(), start, 0);
  }

  BracketInstance instance(const HyperbandBracket& bracket, int first_number, int size) const {
    BracketInstance result;
    for (int number = first_number; number < first_number + size; ++number)
      if (run_cap_ <= 0 || number < run_cap_) result.members.push_back(number);
    for (const auto& rung : bracket.rungs) result.rung_epochs.push_back(rung.epochs);
    return result;
  }

  // A trial has settled at a rung when it reported there or ended without reaching it.
  static bool settled(const TrialIndex& trials, int number, int epoch) {
    const auto found = trials.find(number);
    if (found == trials.end()) return false;  // not created yet
    const FrozenTrial& trial = *found->second;
    return value_at(trial, epoch).has_value() || trial.state == RunState::complete || trial.state == RunState::pruned ||
           trial.state == RunState::failed;
  }

  BracketProgress progress_of(const BracketInstance& bracket, const TrialIndex& trials) const {
    BracketProgress progress;
    progress.entered.push_back(bracket.members);
    std::size_t nominal = bracket.members.size();
    for (std::size_t rung = 0; rung + 1 < bracket.rung_epochs.size(); ++rung) {
      const int epoch = bracket.rung_epochs[rung];
      const auto& entered = progress.entered.back();
      for (int number : entered)
        if (!settled(trials, number, epoch)) return progress;
      std::vector<FrozenTrial> reported;
      for (int number : entered)
        if (trials.count(number)) reported.push_back(*trials.at(number));
      // A full bracket keeps floor(n / eta) >= 1 to its last rung (81, 27, 9, 3, 1); one cut short
      // by run_cap keeps at least its best trial, so every bracket ends with a trained model.
      nominal = std::max<std::size_t>(1, std::size_t(std::floor(double(nominal) / eta_)));
      progress.entered.push_back(top_numbers(rank_at(reported, epoch, goal_), nominal));
      ++progress.decided_rungs;
    }
    return progress;
  }

  // Calls visit(number, epoch, survives) for each paused trial whose rung is decided.
  template <typename Visit>
  void visit_decided_paused(std::span<const FrozenTrial> trials, Visit visit) const {
    const TrialIndex index = index_by_number(trials);
    for (const auto& [number, trial] : index) {
      const int epoch = paused_epoch(*trial);
      if (epoch == 0) continue;
      const BracketInstance bracket = bracket_of(number);
      const BracketProgress progress = progress_of(bracket, index);
      for (int rung = 0; rung < progress.decided_rungs; ++rung) {
        if (bracket.rung_epochs[std::size_t(rung)] != epoch) continue;
        const auto& survivors = progress.entered[std::size_t(rung) + 1];
        visit(number, epoch, std::count(survivors.begin(), survivors.end(), number) > 0);
      }
    }
  }

  Goal goal_;
  int max_iter_;
  double eta_;
  int run_cap_;
  std::vector<HyperbandBracket> brackets_;
  int cycle_size_ = 0;
};

// Checked before any arithmetic: with eta <= 1 or no epochs the bracket count is not a number.
void check_schedule(int max_iter, double eta) {
  if (!(eta > 1.0)) throw ConfigError("early_terminate.eta must be > 1, got " + std::to_string(eta));
  if (max_iter < 1) throw ConfigError("early_terminate.max_iter must be >= 1 epoch, got " + std::to_string(max_iter));
}

}  // namespace

int hyperband_s_max(int max_iter, int min_iter, double eta) {
  check_schedule(max_iter, eta);
  // The small margin keeps exact powers (81 / 1 with eta 3) from flooring to one less.
  return int(std::floor(std::log(double(max_iter) / double(min_iter)) / std::log(eta) + 1e-9));
}

std::vector<HyperbandBracket> hyperband_brackets(int max_iter, double eta, int s_max) {
  std::vector<HyperbandBracket> brackets;
  for (int s = s_max; s >= 0; --s) {
    HyperbandBracket bracket{s, {}};
    double configurations = std::ceil(double(s_max + 1) / double(s + 1) * std::pow(eta, s) - 1e-9);
    for (int rung = 0; rung <= s; ++rung) {
      const int epochs = std::max(1, int(std::lround(max_iter * std::pow(eta, rung - s))));
      bracket.rungs.push_back({int(configurations), epochs});
      configurations = std::floor(configurations / eta);
    }
    brackets.push_back(std::move(bracket));
  }
  return brackets;
}

std::unique_ptr<Scheduler> make_hyperband(Goal goal, int max_iter, double eta, int s_max, int run_cap) {
  check_schedule(max_iter, eta);
  if (s_max < 0) throw ConfigError("early_terminate.s must be >= 0, got " + std::to_string(s_max));
  return std::make_unique<Hyperband>(goal, max_iter, eta, s_max, run_cap);
}

}  // namespace mlptune::tune
