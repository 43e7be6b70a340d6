// Fuzzes the safetensors reader (read_safetensors) and the model / trial-state loader on top of it
// (load_trial_state), and checks that what either reads writes back and reads the same again; and
// the readers of a model's parameters (load_parameters) and data entry (read_model_data).
#include "mlptune/safetensors.hpp"

#include <cstring>

#include "fuzz_support.hpp"

using namespace mlptune;

namespace {

// Bit for bit, so NaN payloads count too.
bool same_tensors(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].shape != b[i].shape || a[i].data.size() != b[i].data.size()) return false;
    if (!a[i].data.empty() && std::memcmp(a[i].data.data(), b[i].data.data(), a[i].data.size() * sizeof(float)) != 0)
      return false;
  }
  return true;
}

bool same_model(const ModelSpec& a, const ModelSpec& b) {
  return a.input_width == b.input_width && a.hidden == b.hidden && a.output_width == b.output_width &&
         a.activation == b.activation && a.loss == b.loss && a.init == b.init;
}

bool same_state(const TrialState& a, const TrialState& b) {
  return same_model(a.model, b.model) && same_tensors(a.parameters, b.parameters) &&
         same_tensors(a.first_moment, b.first_moment) && same_tensors(a.second_moment, b.second_moment) &&
         a.step == b.step && a.epoch == b.epoch && a.epochs_since_best == b.epochs_since_best &&
         std::memcmp(&a.best_validation_loss, &b.best_validation_loss, sizeof(double)) == 0;
}

void check_tensor_file(const fuzz::fs::path& path) {
  const auto file = fuzz::expected_errors([&] { return read_safetensors(path); });
  if (!file) return;
  for (const Tensor& tensor : file->tensors) {
    std::size_t count = 1;
    for (const auto extent : tensor.shape) count *= std::size_t(extent);
    fuzz::require(count == tensor.data.size(), "a tensor read back holds a different count than its shape");
  }
  // The writer may refuse names the reader took (an empty one); what it writes must read back.
  const auto copy = fuzz::scratch().path() / "copy.safetensors";
  if (!fuzz::expected_errors([&] { return (write_safetensors(copy, file->tensors, file->metadata), true); })) return;
  const SafetensorsFile again = read_safetensors(copy);
  fuzz::require(same_tensors(file->tensors, again.tensors) && file->metadata == again.metadata,
                "read_safetensors of a file write_safetensors wrote differs from what was written");
}

void check_state_file(const fuzz::fs::path& path) {
  const auto state = fuzz::expected_errors([&] { return load_trial_state(path); });
  if (!state) return;
  fuzz::require(state->parameters.size() == 2 * state->model.layers().size(),
                "load_trial_state returned parameters that do not match its model");
  const bool with_optimizer_state = !state->first_moment.empty() || !state->second_moment.empty();
  const auto copy = fuzz::scratch().path() / "copy-state.safetensors";
  save_trial_state(copy, *state, with_optimizer_state);
  fuzz::require(same_state(*state, load_trial_state(copy)), "a trial state saved and loaded again differs");
}

// The same file as --init-from and predict read it: a model's parameters (any file of its layers'
// tensors) and its data entry are each taken or refused with an error.
void check_parameters_file(const fuzz::fs::path& path) {
  ModelSpec model;
  model.input_width = 4;
  model.hidden = {4};
  model.output_width = 3;
  if (const auto parameters = fuzz::expected_errors([&] { return load_parameters(path, model); }))
    fuzz::require(parameters->size() == 4 && parameters->at(2).shape == std::vector<std::int64_t>{3, 4},
                  "load_parameters returned tensors that are not the model's");
  if (const auto file = fuzz::expected_errors([&] { return read_safetensors(path); }))
    fuzz::expected_errors([&] { return read_model_data(path, file->metadata); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = fuzz::scratch().write("model.safetensors", {reinterpret_cast<const char*>(data), size});
  check_tensor_file(path);
  check_state_file(path);
  check_parameters_file(path);
  return 0;
}
