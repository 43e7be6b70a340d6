// Schedulers (pruners): after each epoch they answer "go on, pause here, or stop?", and they name
// paused trials that have earned more epochs. None, median (Optuna's MedianPruner), ASHA and Hyperband.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mlptune/engine.hpp"
#include "mlptune/tune/study_config.hpp"

namespace mlptune::tune {

// A paused trial that continues (from its saved state) to the end of its epochs, judged again at
// each later rung.
struct Promotion {
  int number = 0;
  int from_epoch = 0;  // where it paused
};

// Schedulers hold no state of their own: every answer is a function of the trials' history, so a
// study resumed after kill -9, or shared by processes, gets the same answers. `trials` holds every
// trial of the study with its intermediate values; a paused trial is waiting with intermediate
// values (is_paused in storage.hpp), paused at its last reported epoch.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual std::string name() const = 0;

  // After `trial` reported `epoch` (its intermediate values include it): proceed, pause (wait at a
  // rung for a promotion) or stop (pruned).
  virtual Decision judge(const FrozenTrial& trial, int epoch, std::span<const FrozenTrial> trials) const = 0;
  // A paused trial that may go on now, if any.
  virtual std::optional<Promotion> promotion(std::span<const FrozenTrial> /*trials*/) const { return std::nullopt; }
  // Paused trials that can never be promoted any more (their rung is decided without them): the
  // study prunes them. Paused trials left when the study ends are pruned too.
  virtual std::vector<int> never_promoted(std::span<const FrozenTrial> /*trials*/) const { return {}; }
  // Epochs every trial trains in all (the resource rungs are counted in); 0: the trial's own.
  virtual int max_epochs() const { return 0; }
  // The fewest trials a study needs before any of them can train to max_epochs (Hyperband: its
  // first bracket, whose rungs are decided only once all its configurations have reported).
  virtual int trials_for_a_full_run() const { return 1; }
};

std::unique_ptr<Scheduler> make_no_pruning();

// Optuna's MedianPruner: once `startup_trials` trials completed and past `warmup_epochs`, stop a
// trial whose best intermediate value so far is worse than the median of the completed trials'
// values at the same epoch. Epochs are 1-based: epochs 1..warmup_epochs are never judged.
std::unique_ptr<Scheduler> make_median_pruner(Goal goal, int startup_trials = 5, int warmup_epochs = 0);

// ASHA (Li et al., MLSys 2020): rungs at min_iter·eta^k below max_iter. A trial reaching a rung
// goes on at once when it is in the top floor(n/eta) of the n trials that reached that rung;
// otherwise it pauses there and is promoted later if enough worse trials arrive.
std::unique_ptr<Scheduler> make_asha(Goal goal, int min_iter, int max_iter, double eta);

// Hyperband (Li et al., JMLR 2018): brackets s = s_max..0, bracket s takes n = ceil((s_max+1)/(s+1)·eta^s)
// configurations (trial numbers in bracket order, repeating) at r = R·eta^-s epochs; successive
// halving inside each bracket keeps the best floor(n_i/eta) of each rung once the whole rung has
// reported. `run_cap` (> 0) tells how many configurations the last, partial cycle holds.
std::unique_ptr<Scheduler> make_hyperband(Goal goal, int max_iter, double eta, int s_max, int run_cap);

struct HyperbandRung {
  int configurations = 0;  // n_i
  int epochs = 0;          // r_i
};
struct HyperbandBracket {
  int s = 0;
  std::vector<HyperbandRung> rungs;
};
// The schedule of one Hyperband cycle, brackets in the order they run (s_max first).
std::vector<HyperbandBracket> hyperband_brackets(int max_iter, double eta, int s_max);
// floor(log_eta(max_iter / min_iter)), the most aggressive bracket for that range. Throws
// ConfigError for eta <= 1 or max_iter < 1, where it is not a number.
int hyperband_s_max(int max_iter, int min_iter, double eta);

// From the configuration's early_terminate (W&B: {type: hyperband, min_iter | (max_iter and s), eta}).
// `trial_epochs` fills in max_iter when it is missing. Throws ConfigError for eta <= 1 or bad ranges.
std::unique_ptr<Scheduler> make_scheduler(const EarlyTerminate& settings, Goal goal, int run_cap, int trial_epochs);

}  // namespace mlptune::tune
