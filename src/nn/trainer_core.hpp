// The trainer core: what every backend's Trainer does the same way. It keeps the trial's spec and
// the schedule's horizon, the epoch and step counters, the status and its messages, early
// stopping, divergence reporting, the checks on inputs and states, and the TrialState
// bookkeeping. A backend derives from it and supplies only the math and the memory (the hooks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "mlptune/backend.hpp"
#include "nn/early_stopping.hpp"
#include "nn/metric_sums.hpp"
#include "nn/parameter_layout.hpp"

namespace mlptune {

// The host copy of a trainer's learned arrays, each flat in the trainer's ParameterLayout (its
// padding zero).
struct FlatParameters {
  std::vector<float> parameters;     // (flat_size)
  std::vector<float> first_moment;   // (flat_size), or empty: no such optimizer slot (loading: zeros)
  std::vector<float> second_moment;  // (flat_size), or empty, as first_moment
};

// What one epoch of training steps leaves.
struct EpochSteps {
  MetricSums train;        // the epoch's loss sums; nonfinite and first_nonfinite_step when it diverged
  std::int64_t steps = 0;  // optimizer steps taken in all (the trial's, not the epoch's)
};

// Loss, and accuracy (classification) or RMSE in the file's units (regression), from a pass's sums.
Metrics to_metrics(const MetricSums& sums, Task task, double target_scale);

class TrainerCore : public Trainer {
 public:
  // Checks the spec against the data first (check_trial_fits_data), so a backend's constructor
  // only runs for a trial that fits. The backend's flat arrays start each tensor at a multiple of
  // `parameter_alignment` elements (ParameterLayout).
  TrainerCore(const TrialSpec& spec, std::shared_ptr<const DataSplits> data, std::size_t parameter_alignment = 1);

  // train_steps, then the report: a divergence, or validation, early stopping and the status. Any
  // exception marks the trial failed. A backend may wrap it (the CUDA backend opens its NVTX
  // ranges around the whole epoch) but must call it.
  EpochReport train_epoch() override;
  Metrics evaluate(const Dataset& split) final;
  std::vector<float> predict(const Dataset& data) final;
  TrialState state() const final;
  void load_state(const TrialState& state) final;
  void extend_epochs(int epochs) final;
  const TrialSpec& spec() const final { return spec_; }

 protected:
  const DataSplits& data() const { return *data_; }
  const ParameterLayout& layout() const { return layout_; }
  int slot_count() const { return slot_count_; }
  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  // The most rows a training batch holds: the batch size, or the training rows where they are
  // fewer. Scratch sized by it stays as small as the data for any batch size.
  int batch_rows() const { return batch_rows_; }
  int epochs_done() const { return epoch_; }
  // The rate of 0-based global step `step`, on the schedule the trial started with: extend_epochs
  // raises the budget but keeps this horizon.
  double learning_rate(std::int64_t step) const;

  // --- the backend's math and memory ---
  // Epoch `epoch` (0-based) after `first_step` steps: the epoch's row order, then per batch the
  // loss and, while every loss so far was finite, the gradients and an update at
  // learning_rate(step) with Adam's t = step + 1. The first non-finite loss is recorded as
  // accumulate_metrics records it (at steps taken + 1) and no update follows it; at the end,
  // parameters an update made non-finite are flagged as flag_nonfinite_values flags them.
  virtual EpochSteps train_steps(int epoch, std::int64_t first_step) = 0;
  // Sums over `split` (rows > 0, checked to fit the model) with the current parameters.
  virtual MetricSums sum_metrics(const Dataset& split) = 0;
  // The network's outputs (rows, output_width) for `data` (checked to have the model's input width).
  virtual std::vector<float> compute_outputs(const Dataset& data) = 0;
  virtual FlatParameters read_parameters() const = 0;
  // Moment arrays are empty (zeros) or full, and only those of the optimizer's slots are given.
  virtual void write_parameters(const FlatParameters& flat) = 0;

 private:
  void check_can_train() const;
  void check_usable() const;
  void report_divergence(const MetricSums& train, EpochReport& report);
  void finish_epoch(EpochReport& report);

  TrialSpec spec_;
  const TrainConfig schedule_;  // the configuration the trial started with: the schedule's horizon
  std::shared_ptr<const DataSplits> data_;
  ParameterLayout layout_;
  int slot_count_ = 0;
  std::int64_t steps_per_epoch_ = 0;
  int batch_rows_ = 0;

  int epoch_ = 0;          // epochs completed
  std::int64_t step_ = 0;  // optimizer steps taken
  EarlyStopping early_stopping_;
  TrialStatus status_ = TrialStatus::running;
};

}  // namespace mlptune
