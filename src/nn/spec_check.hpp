// Checks every backend makes before training a trial or using a split: the spec is valid, the
// splits are consistent, and they fit the model.
#pragma once

#include "mlptune/data.hpp"
#include "mlptune/model.hpp"
#include "mlptune/trial.hpp"

namespace mlptune {

// The loss a task trains with: softmax cross-entropy for classes, mean squared error for regression.
Loss loss_for(Task task);

// Validates the model and the training configuration, then checks them against the data: a
// training split with rows (at most 2^32 - 1: epoch permutations hold 32-bit indices), consistent
// arrays in every split, input and output widths, the loss for the task, and a validation split
// when early stopping is on. Throws ConfigError (DataError for inconsistent arrays) naming the
// mismatch and the fix.
void check_trial_fits_data(const TrialSpec& spec, const DataSplits& data);

// The split's arrays agree with its row and column counts, and its labels are class indices;
// DataError naming the `role` ("training", "evaluated") and the split otherwise.
void check_split_arrays(const Dataset& split, const char* role);

enum class SplitUse {
  inputs,              // predict: the features only
  inputs_and_outputs,  // evaluate: features, and labels or targets for the model's loss
};
// The split has the model's input width and, for inputs_and_outputs, its outputs (the task of the
// model's loss and output_width classes or targets); ConfigError otherwise.
void check_split_fits_model(const ModelSpec& model, const Dataset& split, SplitUse use);

}  // namespace mlptune
