// The model summary: each layer's weights and biases (what training learns) beside the
// hyperparameters (what the user sets), like a Keras model summary.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "mlptune/model.hpp"
#include "mlptune/train_config.hpp"

namespace mlptune::cli {

void print_summary(std::ostream& out, const ModelSpec& model, const std::optional<TrainConfig>& train,
                   const std::string& data_description);

}  // namespace mlptune::cli
