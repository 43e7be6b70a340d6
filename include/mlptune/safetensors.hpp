// Reading and writing tensors in the safetensors format (so PyTorch's safetensors.torch.load_file
// reads what mlptune saves), and trial states / models on top of it.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mlptune/data.hpp"
#include "mlptune/trial.hpp"

namespace mlptune {

// Writes F32 tensors. Metadata goes in the "__metadata__" string map.
void write_safetensors(const std::filesystem::path& path, const std::vector<Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
struct SafetensorsFile {
  std::vector<Tensor> tensors;  // in file order
  std::map<std::string, std::string> metadata;
};
// Reads F32, F16, BF16 and F64 tensors as float32. Throws DataError naming the file and what is
// wrong (bad header, truncated data, another dtype, an F64 value beyond float32's range).
SafetensorsFile read_safetensors(const std::filesystem::path& path);
// The same in memory: the bytes a file would hold, and back; `name` names them in messages.
std::string safetensors_bytes(const std::vector<Tensor>& tensors, const std::map<std::string, std::string>& metadata,
                              const std::string& name);
SafetensorsFile read_safetensors_bytes(const std::string& bytes, const std::string& name);

// A model file: the parameters plus metadata (the ModelSpec as JSON, and free-form entries such
// as hyperparameters and metrics). With optimizer state when `with_optimizer_state`.
void save_trial_state(const std::filesystem::path& path, const TrialState& state, bool with_optimizer_state,
                      const std::map<std::string, std::string>& extra_metadata = {});
TrialState load_trial_state(const std::filesystem::path& path);
// The same as the bytes of such a file (a checkpoint kept in a study's database); `name` names them
// in messages.
std::string trial_state_bytes(const TrialState& state, bool with_optimizer_state,
                              const std::map<std::string, std::string>& extra_metadata, const std::string& name);
TrialState trial_state_from_bytes(const std::string& bytes, const std::string& name);

// The parameters of `model` from any safetensors file that holds exactly its tensors,
// layers.{i}.weight (out, in) and layers.{i}.bias (out) in any dtype read_safetensors reads: an
// mlptune model (its optimizer slots left out), or a torch.nn.ModuleList of nn.Linear named
// `layers` saved with safetensors.torch.save_file. Throws DataError listing the tensors expected
// and those found when the names or shapes differ, or naming one that holds NaN or Inf.
std::vector<Tensor> load_parameters(const std::filesystem::path& path, const ModelSpec& model);

// How a model's training data was read and scaled, saved beside its parameters (metadata entry
// "mlptune.data") so that new rows are read and scaled the same way.
struct ModelData {
  Task task = Task::classification;
  std::string label_column;                // as given: an index or a header name; empty: the last column
  std::vector<std::string> feature_names;  // from the training file's header; empty without one
  std::vector<float> column_scale;         // per feature: scaled = fma(value, column_scale, column_offset)
  std::vector<float> column_offset;
  int classes = 0;             // classification
  double target_offset = 0.0;  // regression: file units = output * target_scale + target_offset
  double target_scale = 1.0;
};
inline constexpr const char* kModelDataKey = "mlptune.data";

// The training split's reading and scaling.
ModelData model_data_of(const Dataset& train, const std::string& label_column);
// The metadata entry's text (JSON), and back. The reader throws DataError naming the file when the
// entry is missing (a model saved by an mlptune before it kept its scaling, or by another program:
// the fix is to save it again with `mlptune train --save`) or malformed.
std::string model_data_text(const ModelData& data);
ModelData read_model_data(const std::filesystem::path& path, const std::map<std::string, std::string>& metadata);
// Throws DataError naming the file and the mismatch when the entry does not fit `model`: its
// scaling covers another number of features than the model's inputs, or its class count differs
// from the model's outputs.
void check_model_data(const std::filesystem::path& path, const ModelData& data, const ModelSpec& model);

}  // namespace mlptune
