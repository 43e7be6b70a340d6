// The end-of-epoch decision shared by the backends.
#include "nn/early_stopping.hpp"

#include "common/count_text.hpp"

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
    message = "stopped early after " + count_text(epochs_done, "epoch") + ": no better validation loss for " +
              count_text(patience, "epoch");
    return TrialStatus::stopped_early;
  }
  return TrialStatus::running;
}

}  // namespace mlptune
