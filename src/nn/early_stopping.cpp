// The end-of-epoch decision shared by the backends.
#include "nn/early_stopping.hpp"

namespace mlptune {

TrialStatus EarlyStopping::after_epoch(const TrainConfig& config, int epochs_done,
                                       std::optional<double> validation_loss, std::string& message) {
  if (validation_loss) {
    if (*validation_loss < best_validation_loss) {
      best_validation_loss = *validation_loss;
      epochs_since_best = 0;
    } else {
      ++epochs_since_best;
    }
  }
  if (epochs_done >= config.epochs) return TrialStatus::completed;
  const int patience = config.early_stopping_patience;
  if (patience > 0 && epochs_since_best >= patience) {
    message = "stopped early after " + std::to_string(epochs_done) + " epochs: no better validation loss for " +
              std::to_string(patience) + " epochs";
    return TrialStatus::stopped_early;
  }
  return TrialStatus::running;
}

}  // namespace mlptune
