// Writing a run's per-epoch metrics as CSV or JSON (by the file's extension).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mlptune/trial.hpp"

namespace mlptune::cli {

nlohmann::json to_json(const TrialSpec& spec);
nlohmann::json to_json(const EpochReport& report);
nlohmann::json to_json(const Metrics& metrics);

// path ending in .json: {"spec", "data", "epochs": [...], "result"}; otherwise CSV with one row per
// epoch: epoch,step,train_loss,validation_loss,validation_accuracy,validation_rmse,learning_rate,
// samples_per_second,seconds,status,message
void write_metrics(const std::string& path, const TrialSpec& spec, const std::string& data_name,
                   const std::vector<EpochReport>& epochs, const nlohmann::json& result);

}  // namespace mlptune::cli
