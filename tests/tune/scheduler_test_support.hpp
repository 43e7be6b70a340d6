// A one-slot study simulator for scheduler tests: trials run epoch by epoch, obeying judge,
// promotion and never_promoted exactly as the study driver does, with values from a function.
#pragma once

#include <functional>
#include <vector>

#include "mlptune/tune/scheduler.hpp"
#include "mlptune/tune/storage.hpp"

namespace mlptune::tune::testing {

using ValueFn = std::function<double(int number, int epoch)>;

class SchedulerSimulation {
 public:
  SchedulerSimulation(const Scheduler& scheduler, int run_cap, int epochs, ValueFn value)
      : scheduler_(scheduler), run_cap_(run_cap), epochs_(epochs), value_(std::move(value)) {}

  // Runs until no trial can be created or promoted; paused trials left over are pruned.
  const std::vector<FrozenTrial>& run() {
    for (;;) {
      if (auto promotion = scheduler_.promotion(trials_)) {
        ++promotions_;
        train(promotion->number, promotion->from_epoch + 1);
      } else if (int(trials_.size()) < run_cap_) {
        trials_.push_back(FrozenTrial{});
        trials_.back().number = int(trials_.size()) - 1;
        train(trials_.back().number, 1);
      } else {
        break;
      }
      for (int number : scheduler_.never_promoted(trials_)) prune(number);
    }
    for (auto& trial : trials_)
      if (trial.state == RunState::waiting) prune(trial.number);
    return trials_;
  }

  int promotions() const { return promotions_; }
  // How many trials reported a value at `epoch`, among trial numbers [first, last).
  int reached(int epoch, int first = 0, int last = 1 << 30) const {
    int count = 0;
    for (const auto& trial : trials_)
      if (trial.number >= first && trial.number < last && trial.intermediate.count(epoch)) ++count;
    return count;
  }

 private:
  void train(int number, int first_epoch) {
    FrozenTrial& trial = trials_[std::size_t(number)];
    trial.state = RunState::running;
    trial.paused_epoch = 0;
    for (int epoch = first_epoch; epoch <= epochs_; ++epoch) {
      trial.intermediate[epoch] = value_(number, epoch);
      const Decision decision = scheduler_.judge(trial, epoch, trials_);
      if (decision == Decision::stop) return prune(number);
      if (decision == Decision::pause) {
        trial.state = RunState::waiting;
        trial.paused_epoch = epoch;
        return;
      }
    }
    trial.state = RunState::complete;
    trial.value = trial.intermediate.rbegin()->second;
  }

  void prune(int number) {
    FrozenTrial& trial = trials_[std::size_t(number)];
    trial.state = RunState::pruned;
    trial.value = trial.intermediate.rbegin()->second;
  }

  const Scheduler& scheduler_;
  int run_cap_;
  int epochs_;
  ValueFn value_;
  std::vector<FrozenTrial> trials_;
  int promotions_ = 0;
};

}  // namespace mlptune::tune::testing
