// Reading and writing tensors in the safetensors format (so PyTorch's safetensors.torch.load_file
// reads what mlptune saves), and trial states / models on top of it.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mlptune/trial.hpp"

namespace mlptune {

// F32 tensors only. Metadata goes in the "__metadata__" string map.
void write_safetensors(const std::filesystem::path& path, const std::vector<Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
struct SafetensorsFile {
  std::vector<Tensor> tensors;  // in file order
  std::map<std::string, std::string> metadata;
};
// Throws DataError naming the file and what is wrong (bad header, truncated data, dtype).
SafetensorsFile read_safetensors(const std::filesystem::path& path);

// A model file: the parameters plus metadata (the ModelSpec as JSON, and free-form entries such
// as hyperparameters and metrics). With optimizer state when `with_optimizer_state`.
void save_trial_state(const std::filesystem::path& path, const TrialState& state, bool with_optimizer_state,
                      const std::map<std::string, std::string>& extra_metadata = {});
TrialState load_trial_state(const std::filesystem::path& path);

}  // namespace mlptune
