// Checks every backend makes before training a trial: the spec is valid and fits its data.
#pragma once

#include "mlptune/data.hpp"
#include "mlptune/model.hpp"
#include "mlptune/trial.hpp"

namespace mlptune {

// The loss a task trains with: softmax cross-entropy for classes, mean squared error for regression.
Loss loss_for(Task task);

// Validates the model and the training configuration, then checks them against the data: a
// training split with rows, input and output widths, the loss for the task, and a validation
// split when early stopping is on. Throws ConfigError naming the mismatch and the fix.
void check_trial_fits_data(const TrialSpec& spec, const DataSplits& data);

}  // namespace mlptune
