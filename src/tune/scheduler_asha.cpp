// ASHA (asynchronous successive halving): promote a trial from a rung as soon as it is in the top
// 1/eta of the trials that reached that rung; otherwise pause it there.
#include <cmath>
#include <map>

#include "mlptune/error.hpp"
#include "mlptune/tune/scheduler.hpp"
#include "tune/scheduler_ranking.hpp"

namespace mlptune::tune {
namespace {

// min_iter·eta^k for k = 0, 1, ... below max_iter (the end of training is no decision point).
std::vector<int> asha_rung_epochs(int min_iter, int max_iter, double eta) {
  std::vector<int> epochs;
  for (double epoch = min_iter; std::lround(epoch) < max_iter; epoch *= eta) epochs.push_back(int(std::lround(epoch)));
  return epochs;
}

class Asha final : public Scheduler {
 public:
  Asha(Goal goal, int min_iter, int max_iter, double eta)
      : goal_(goal), max_iter_(max_iter), eta_(eta), rung_epochs_(asha_rung_epochs(min_iter, max_iter, eta)) {}

  std::string name() const override { return "asha"; }
  int max_epochs() const override { return max_iter_; }

  Decision judge(const FrozenTrial& trial, int epoch, std::span<const FrozenTrial> trials) const override {
    if (!is_rung(epoch)) return Decision::proceed;
    for (int number : promotable(trials, epoch))
      if (number == trial.number) return Decision::proceed;
    return Decision::pause;
  }

  // Higher rungs first, as in ASHA's get_job: finishing good trials beats starting new ones.
  std::optional<Promotion> promotion(std::span<const FrozenTrial> trials) const override {
    std::map<int, const FrozenTrial*> by_number;
    for (const FrozenTrial& trial : trials) by_number[trial.number] = &trial;
    for (auto rung = rung_epochs_.rbegin(); rung != rung_epochs_.rend(); ++rung)
      for (int number : promotable(trials, *rung))
        if (paused_epoch(*by_number.at(number)) == *rung) return Promotion{number, *rung};
    return std::nullopt;
  }

 private:
  bool is_rung(int epoch) const {
    for (int rung : rung_epochs_)
      if (rung == epoch) return true;
    return false;
  }

  // The top floor(n/eta) of the n trials with a value at this rung.
  std::vector<int> promotable(std::span<const FrozenTrial> trials, int rung_epoch) const {
    const auto ranked = rank_at(trials, rung_epoch, goal_);
    return top_numbers(ranked, std::size_t(std::floor(double(ranked.size()) / eta_)));
  }

  Goal goal_;
  int max_iter_;
  double eta_;
  std::vector<int> rung_epochs_;
};

}  // namespace

std::unique_ptr<Scheduler> make_asha(Goal goal, int min_iter, int max_iter, double eta) {
  if (!(eta > 1.0)) throw ConfigError("early_terminate.eta must be > 1, got " + std::to_string(eta));
  if (min_iter < 1 || max_iter < min_iter)
    throw ConfigError("early_terminate needs 1 <= min_iter <= max_iter, got min_iter " + std::to_string(min_iter) +
                      " and max_iter " + std::to_string(max_iter));
  return std::make_unique<Asha>(goal, min_iter, max_iter, eta);
}

}  // namespace mlptune::tune
