// The end of an epoch as every backend decides it: the early-stopping record and the trial's
// status (still running, completed, or stopped early).
#pragma once

#include <limits>
#include <optional>
#include <string>

#include "mlptune/train_config.hpp"
#include "mlptune/trial.hpp"

namespace mlptune {

struct EarlyStopping {
  double best_validation_loss = std::numeric_limits<double>::infinity();
  int epochs_since_best = 0;

  // After `epochs_done` epochs: records the epoch's validation loss (none without a validation
  // split) and returns completed once the configured epochs are done, stopped_early (with
  // `message` set) after `early_stopping_patience` epochs without a better loss, else running.
  TrialStatus after_epoch(const TrainConfig& config, int epochs_done, std::optional<double> validation_loss,
                          std::string& message);
};

}  // namespace mlptune
