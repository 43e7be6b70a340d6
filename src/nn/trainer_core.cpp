// The trainer core: counters, status, early stopping, the schedule's horizon, divergence reports,
// input and state checks and the TrialState bookkeeping, the same for every backend.
#include "nn/trainer_core.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "mlptune/error.hpp"
#include "nn/spec_check.hpp"

namespace mlptune {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::shared_ptr<const DataSplits> checked(const TrialSpec& spec, std::shared_ptr<const DataSplits> data) {
  if (!data) throw ConfigError("a trainer needs its data: none was given");
  check_trial_fits_data(spec, *data);
  return data;
}

}  // namespace

Metrics to_metrics(const MetricSums& sums, Task task, double target_scale) {
  Metrics metrics;
  metrics.samples = sums.samples;
  if (sums.samples == 0) return metrics;
  const double samples = double(sums.samples);
  metrics.loss = sums.loss_sum / samples;
  if (task == Task::classification)
    metrics.accuracy = double(sums.correct) / samples;
  else
    metrics.rmse = std::sqrt(metrics.loss) * target_scale;  // mse's sample loss is the mean over targets
  return metrics;
}

TrainerCore::TrainerCore(const TrialSpec& spec, std::shared_ptr<const DataSplits> data, std::size_t parameter_alignment)
    : spec_(spec),
      schedule_(spec.train),
      data_(checked(spec, std::move(data))),
      layout_(spec.model, parameter_alignment),
      slot_count_(optimizer_slot_count(spec.train.optimizer)),
      steps_per_epoch_((std::int64_t(data_->train.rows) + spec.train.batch_size - 1) / spec.train.batch_size),
      batch_rows_(int(std::min<std::size_t>(std::size_t(spec.train.batch_size), data_->train.rows))) {}

double TrainerCore::learning_rate(std::int64_t step) const {
  return learning_rate_at(schedule_, step, steps_per_epoch_);
}

void TrainerCore::check_can_train() const {
  if (status_ == TrialStatus::running) return;
  throw Error("trial " + std::to_string(spec_.trial_number) + " has ended (" + to_string(status_) +
              "); train_epoch cannot continue it" +
              (status_ == TrialStatus::completed ? " (raise its budget with extend_epochs first)" : ""));
}

void TrainerCore::check_usable() const {
  if (status_ == TrialStatus::failed) throw Error("trial " + std::to_string(spec_.trial_number) + " has failed");
}

EpochReport TrainerCore::train_epoch() {
  check_can_train();
  const auto start = Clock::now();
  try {
    const EpochSteps result = train_steps(epoch_, step_);
    const double train_seconds = seconds_since(start);
    const double rows = double(data_->train.rows);
    step_ = result.steps;
    EpochReport report;
    report.epoch = epoch_ + 1;
    report.step = step_;
    report.train_loss = result.train.loss_sum / rows;
    report.samples_per_second = train_seconds > 0.0 ? rows / train_seconds : 0.0;
    if (result.train.nonfinite != 0)
      report_divergence(result.train, report);
    else
      finish_epoch(report);
    report.status = status_;
    report.seconds = seconds_since(start);
    return report;
  } catch (...) {
    status_ = TrialStatus::failed;
    throw;
  }
}

// No validation, and the two cases reported apart. A non-finite loss is flagged at the step it
// would have been (steps taken + 1): no update followed it, the epoch does not count and the rate
// is that step's. An update that made parameters non-finite is flagged at the step that made it:
// the epoch counts and its loss is finite.
void TrainerCore::report_divergence(const MetricSums& train, EpochReport& report) {
  status_ = TrialStatus::diverged;
  const bool by_update = train.first_nonfinite_step == step_;
  report.message = "diverged at epoch " + std::to_string(report.epoch) + ", step " +
                   std::to_string(train.first_nonfinite_step) +
                   (by_update ? " (the update made parameters non-finite)" : "");
  report.learning_rate = learning_rate(by_update ? step_ - 1 : step_);
  if (by_update) ++epoch_;
}

// Validation, the early-stopping record and the status after an epoch that stayed finite.
void TrainerCore::finish_epoch(EpochReport& report) {
  report.learning_rate = learning_rate(step_ - 1);  // the epoch's last step
  ++epoch_;
  std::optional<double> validation_loss;
  if (data_->validation.rows > 0) {
    report.validation = evaluate(data_->validation);
    validation_loss = report.validation.loss;
  }
  status_ = early_stopping_.after_epoch(spec_.train, epoch_, validation_loss, report.message);
}

Metrics TrainerCore::evaluate(const Dataset& split) {
  check_usable();
  if (split.rows == 0) return to_metrics(MetricSums{}, split.task, split.target_scale);
  check_split_arrays(split, "evaluated");
  check_split_fits_model(spec_.model, split, SplitUse::inputs_and_outputs);
  return to_metrics(sum_metrics(split), split.task, split.target_scale);
}

std::vector<float> TrainerCore::predict(const Dataset& data) {
  check_usable();
  check_split_fits_model(spec_.model, data, SplitUse::inputs);
  return compute_outputs(data);
}

TrialState TrainerCore::state() const {
  const FlatParameters flat = read_parameters();
  TrialState state;
  state.model = spec_.model;
  state.parameters = layout_.to_tensors(flat.parameters);
  if (slot_count_ >= 1) state.first_moment = layout_.to_tensors(flat.first_moment);
  if (slot_count_ >= 2) state.second_moment = layout_.to_tensors(flat.second_moment);
  state.step = step_;
  state.epoch = epoch_;
  state.best_validation_loss = early_stopping_.best_validation_loss;
  state.epochs_since_best = early_stopping_.epochs_since_best;
  return state;
}

void TrainerCore::load_state(const TrialState& state) {
  const std::size_t layers = state.model.layers().size();
  if (layers != layout_.layer_count())
    throw ConfigError("trial state: the saved model has " + std::to_string(layers) + " layers; this trial's has " +
                      std::to_string(layout_.layer_count()));
  if (state.step < 0 || state.epoch < 0) throw ConfigError("trial state: negative step or epoch counter");
  FlatParameters flat;
  flat.parameters = layout_.to_flat(state.parameters, "parameters");
  // A slot the saved run's optimizer did not keep starts at zero.
  if (slot_count_ >= 1 && !state.first_moment.empty())
    flat.first_moment = layout_.to_flat(state.first_moment, "first_moment");
  if (slot_count_ >= 2 && !state.second_moment.empty())
    flat.second_moment = layout_.to_flat(state.second_moment, "second_moment");
  write_parameters(flat);
  step_ = state.step;
  epoch_ = state.epoch;
  early_stopping_ = {state.best_validation_loss, state.epochs_since_best};
  status_ = epoch_ < spec_.train.epochs ? TrialStatus::running : TrialStatus::completed;
}

void TrainerCore::extend_epochs(int epochs) {
  if (epochs < spec_.train.epochs)
    throw ConfigError("extend_epochs: the new budget " + std::to_string(epochs) + " is below the current " +
                      std::to_string(spec_.train.epochs) + " epochs");
  spec_.train.epochs = epochs;
  if (status_ == TrialStatus::completed && epoch_ < epochs) status_ = TrialStatus::running;
}

}  // namespace mlptune
