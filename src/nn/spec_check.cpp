// Checks every backend makes before training a trial, in the same words on every backend.
#include "nn/spec_check.hpp"

#include <string>

#include "mlptune/error.hpp"

namespace mlptune {

Loss loss_for(Task task) { return task == Task::classification ? Loss::softmax_cross_entropy : Loss::mse; }

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
}

}  // namespace mlptune
