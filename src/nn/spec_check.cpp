// Checks every backend makes before training a trial, in the same words on every backend.
#include "nn/spec_check.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include "mlptune/error.hpp"

namespace mlptune {

Loss loss_for(Task task) {
  return task == Task::classification ? Loss::softmax_cross_entropy : Loss::mse;
}

void check_split_arrays(const Dataset& split, const char* role) {
  const std::string where = std::string(role) + " split '" + split.name + "'";
  if (split.features.size() != split.rows * split.cols)
    throw DataError(where + ": " + std::to_string(split.features.size()) + " feature values for " +
                    std::to_string(split.rows) + " rows x " + std::to_string(split.cols) + " columns");
  if (split.task == Task::regression) {
    if (split.targets.size() != split.rows * std::size_t(std::max(split.target_width, 0)))
      throw DataError(where + ": " + std::to_string(split.targets.size()) + " target values for " +
                      std::to_string(split.rows) + " rows x " + std::to_string(split.target_width) + " targets");
    return;
  }
  if (split.labels.size() != split.rows)
    throw DataError(where + ": " + std::to_string(split.labels.size()) + " labels for " + std::to_string(split.rows) +
                    " rows");
  for (std::size_t r = 0; r < split.rows; ++r)
    if (split.labels[r] < 0 || split.labels[r] >= split.num_classes)
      throw DataError(where + ": label " + std::to_string(split.labels[r]) + " at row " + std::to_string(r) +
                      " is outside [0, " + std::to_string(split.num_classes) + ")");
}

void check_split_fits_model(const ModelSpec& model, const Dataset& split, SplitUse use) {
  if (split.cols != std::size_t(model.input_width))
    throw ConfigError("split '" + split.name + "' has " + std::to_string(split.cols) +
                      " feature columns; the model takes " + std::to_string(model.input_width));
  if (use == SplitUse::inputs) return;
  if (loss_for(split.task) != model.loss || split.output_width() != model.output_width)
    throw ConfigError("split '" + split.name + "' has " + std::to_string(split.output_width()) + " " +
                      (split.task == Task::classification ? "classes" : "targets") + "; the model has " +
                      std::to_string(model.output_width) + " outputs with loss " + std::string(to_string(model.loss)));
}

void check_trial_fits_data(const TrialSpec& spec, const DataSplits& data) {
  spec.model.validate();
  spec.train.validate();
  const Dataset& train = data.train;
  if (train.rows == 0) throw ConfigError("the training split '" + train.name + "' has no rows");
  if (std::size_t(spec.model.input_width) != train.cols)
    throw ConfigError("model input width " + std::to_string(spec.model.input_width) + " does not match the " +
                      std::to_string(train.cols) + " feature columns of '" + train.name + "'");
  if (spec.model.output_width != train.output_width())
    throw ConfigError("model output width " + std::to_string(spec.model.output_width) + " does not match the " +
                      std::to_string(train.output_width()) + " outputs (classes or targets) of '" + train.name + "'");
  if (spec.model.loss != loss_for(train.task))
    throw ConfigError("--loss " + std::string(to_string(spec.model.loss)) + " does not fit the " +
                      (train.task == Task::classification ? "classification" : "regression") + " data '" + train.name +
                      "': use " + std::string(to_string(loss_for(train.task))));
  if (spec.train.early_stopping_patience > 0 && data.validation.rows == 0)
    throw ConfigError("--early-stopping needs a validation split, but '" + train.name +
                      "' has no validation rows: set --early-stopping 0 or a validation fraction > 0");
  if (train.rows > std::size_t(UINT32_MAX))
    throw ConfigError("the training split has " + std::to_string(train.rows) + " rows; at most 2^32 - 1 fit");
  check_split_arrays(train, "training");
  check_split_arrays(data.validation, "validation");
  check_split_arrays(data.test, "test");
}

}  // namespace mlptune
