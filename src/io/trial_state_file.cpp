// Trial states as safetensors files: parameters, optional optimizer slots, and the model and
// counters as "mlptune.*" metadata entries.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/number_text.hpp"
#include "common/shape_text.hpp"
#include "common/text_list.hpp"
#include "mlptune/error.hpp"
#include "mlptune/model.hpp"
#include "mlptune/safetensors.hpp"
#include "nn/parameter_layout.hpp"
#include "nn/settings.hpp"

namespace mlptune {
namespace {

constexpr const char* kModelKey = "mlptune.model";
constexpr const char* kStepKey = "mlptune.step";
constexpr const char* kEpochKey = "mlptune.epoch";
constexpr const char* kBestValidationLossKey = "mlptune.best_validation_loss";
constexpr const char* kEpochsSinceBestKey = "mlptune.epochs_since_best";
const std::string kFirstMomentPrefix = "optimizer.first.";
const std::string kSecondMomentPrefix = "optimizer.second.";

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw DataError(path.string() + ": " + problem);
}

ModelSpec model_entry(const std::filesystem::path& path, const std::string& text) {
  try {
    return model_from_json(nlohmann::json::parse(text));
  } catch (const nlohmann::json::exception& error) {
    fail(path, std::string(kModelKey) + " metadata is not a model description: " + error.what());
  } catch (const ConfigError& error) {
    fail(path, std::string(kModelKey) + " metadata: " + error.what());
  }
}

const std::string& required_entry(const std::filesystem::path& path, const std::map<std::string, std::string>& metadata,
                                  const std::string& key) {
  auto found = metadata.find(key);
  if (found == metadata.end())
    fail(path, "is a safetensors file but not an mlptune model: it has no '" + key +
                   "' metadata; give a model saved by `mlptune train --save` or a study");
  return found->second;
}

template <class Integer>
Integer integer_entry(const std::filesystem::path& path, const std::map<std::string, std::string>& metadata,
                      const std::string& key) {
  const std::string& text = required_entry(path, metadata, key);
  Integer value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0)
    fail(path, "metadata '" + key + "' is '" + text + "', not a non-negative integer");
  return value;
}

double double_entry(const std::filesystem::path& path, const std::map<std::string, std::string>& metadata,
                    const std::string& key) {
  const std::string& text = required_entry(path, metadata, key);
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size())
    fail(path, "metadata '" + key + "' is '" + text + "', not a number");
  return value;
}

std::map<std::string, std::string> state_metadata(const std::filesystem::path& path, const TrialState& state,
                                                  const std::map<std::string, std::string>& extra_metadata) {
  std::map<std::string, std::string> metadata = {
      {"format", "pt"},  // what safetensors.torch writes; some PyTorch tools look for it
      {kModelKey, to_json(state.model).dump()},
      {kStepKey, std::to_string(state.step)},
      {kEpochKey, std::to_string(state.epoch)},
      {kBestValidationLossKey, shortest_text(state.best_validation_loss)},
      {kEpochsSinceBestKey, std::to_string(state.epochs_since_best)}};
  for (const auto& [key, value] : extra_metadata) {
    if (key.starts_with("mlptune.") && metadata.contains(key))
      fail(path, "extra metadata '" + key + "' would overwrite the entry mlptune writes itself");
    metadata[key] = value;
  }
  return metadata;
}

// Optimizer slots are saved under the name of the parameter they belong to.
void append_moments(const std::filesystem::path& path, const std::string& prefix, const std::vector<Tensor>& moments,
                    const std::vector<Tensor>& parameters, std::vector<Tensor>& tensors) {
  if (moments.empty()) return;
  if (moments.size() != parameters.size())
    fail(path, "the state has " + std::to_string(moments.size()) + " optimizer slots for " +
                   std::to_string(parameters.size()) + " parameters");
  for (std::size_t i = 0; i < moments.size(); ++i)
    tensors.push_back({prefix + parameters[i].name, moments[i].shape, moments[i].data});
}

// Takes the tensor `name` out of `tensors` (checking its shape), or nothing when it is absent.
std::optional<Tensor> take_tensor(const std::filesystem::path& path, std::map<std::string, Tensor>& tensors,
                                  const std::string& name, const std::vector<std::int64_t>& shape) {
  auto found = tensors.find(name);
  if (found == tensors.end()) return std::nullopt;
  if (found->second.shape != shape)
    fail(path, "tensor '" + name + "' has shape " + shape_text(found->second.shape) + " but the model needs " +
                   shape_text(shape));
  Tensor tensor = std::move(found->second);
  tensors.erase(found);
  return tensor;
}

// Parameters must all be there; an optimizer slot is all there or absent (the optimizer has none).
enum class GroupPresence { required, all_or_none };

std::vector<Tensor> take_group(const std::filesystem::path& path, std::map<std::string, Tensor>& tensors,
                               const std::vector<TensorSlot>& expected, const std::string& prefix,
                               GroupPresence presence) {
  std::vector<Tensor> group;
  std::vector<std::string> missing;
  for (const TensorSlot& wanted : expected) {
    std::optional<Tensor> tensor = take_tensor(path, tensors, prefix + wanted.name, wanted.shape);
    if (tensor)
      group.push_back({wanted.name, std::move(tensor->shape), std::move(tensor->data)});
    else
      missing.push_back(prefix + wanted.name);
  }
  if (missing.empty() || (presence == GroupPresence::all_or_none && group.empty())) return group;
  fail(path, "missing tensor '" + missing.front() + "' for the model in its metadata");
}

// A NaN or Inf value would make every step diverge: the file is refused, naming the tensor.
void check_finite(const std::filesystem::path& path, const std::vector<Tensor>& tensors) {
  for (const Tensor& tensor : tensors) {
    const auto bad = std::find_if(tensor.data.begin(), tensor.data.end(), [](float v) { return !std::isfinite(v); });
    if (bad != tensor.data.end())
      fail(path, "tensor '" + tensor.name + "' holds " + (std::isnan(*bad) ? "NaN" : "Inf") + " at index " +
                     std::to_string(bad - tensor.data.begin()) +
                     "; a model with NaN or Inf values can be neither used nor trained further");
  }
}

// "layers.0.weight [16, 4], layers.0.bias [16]", at most kListed of them.
template <class Tensors>
std::string tensors_text(const Tensors& tensors) {
  constexpr std::size_t kListed = 12;
  std::string text;
  std::size_t listed = 0;
  for (const auto& tensor : tensors) {
    if (listed == kListed) {
      text += ", and " + std::to_string(std::size(tensors) - kListed) + " more";
      break;
    }
    if (listed++ > 0) text += ", ";
    text += tensor.name + " " + shape_text(tensor.shape);
  }
  return listed == 0 ? "no tensors" : text;
}

// A layer's tensor as a state_dict names it: "{prefix}{index}.weight" or "{prefix}{index}.bias".
struct LayerTensorName {
  std::string prefix;  // "layers.", "net.", or "" (an nn.Sequential saved by itself)
  long index = 0;
  bool weight = false;
};

std::optional<LayerTensorName> layer_tensor_name(const std::string& name) {
  LayerTensorName parsed;
  std::string_view stem = name;
  if (stem.ends_with(".weight")) {
    parsed.weight = true;
    stem.remove_suffix(std::string_view(".weight").size());
  } else if (stem.ends_with(".bias")) {
    stem.remove_suffix(std::string_view(".bias").size());
  } else {
    return std::nullopt;
  }
  const std::size_t dot = stem.rfind('.');
  const std::string_view digits = dot == std::string_view::npos ? stem : stem.substr(dot + 1);
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), parsed.index);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || parsed.index < 0)
    return std::nullopt;
  parsed.prefix = std::string(stem.substr(0, stem.size() - digits.size()));
  return parsed;
}

// Renames a state_dict's layers to the layout's names, layers.{i}.weight and layers.{i}.bias, layer
// i being the i-th index in increasing order, and returns the names the file gave them (by new
// name). This takes mlptune's own files, a PyTorch ModuleList called `layers`, and an nn.Sequential,
// whose Linear layers sit at the even indices between activations ("0.weight", "2.weight", ...,
// or "net.0.weight" under a module). A file whose tensors are not all such pairs under one prefix
// keeps its names.
std::map<std::string, std::string> rename_to_layout(std::vector<Tensor>& tensors) {
  std::map<long, int> pairs;  // index -> 1 for a weight + 2 for a bias
  std::optional<std::string> prefix;
  for (const Tensor& tensor : tensors) {
    const auto parsed = layer_tensor_name(tensor.name);
    if (!parsed || (prefix && *prefix != parsed->prefix) || (pairs[parsed->index] & (parsed->weight ? 1 : 2)))
      return {};
    prefix = parsed->prefix;
    pairs[parsed->index] |= parsed->weight ? 1 : 2;
  }
  if (std::any_of(pairs.begin(), pairs.end(), [](const auto& pair) { return pair.second != 3; })) return {};
  std::map<long, int> layer_of;
  for (const auto& [index, both] : pairs) layer_of[index] = int(layer_of.size());
  std::map<std::string, std::string> file_names;
  for (Tensor& tensor : tensors) {
    const auto parsed = layer_tensor_name(tensor.name);
    std::string name = "layers." + std::to_string(layer_of.at(parsed->index)) + (parsed->weight ? ".weight" : ".bias");
    file_names[name] = tensor.name;
    tensor.name = std::move(name);
  }
  return file_names;
}

// The first tensor, in layer order, where the file and the model part: "the first that differs is
// '2.weight' [16, 32], where the model's layers.1.weight is [16, 16]".
std::string first_difference(const std::vector<TensorSlot>& expected, const std::map<std::string, Tensor*>& by_name,
                             const std::map<std::string, std::string>& file_names) {
  const auto file_name = [&file_names](const std::string& name) {
    const auto found = file_names.find(name);
    return "'" + (found == file_names.end() ? name : found->second) + "'";
  };
  for (const TensorSlot& slot : expected) {
    const auto found = by_name.find(slot.name);
    if (found == by_name.end())
      return "the model's " + slot.name + " " + shape_text(slot.shape) + " has no tensor in the file";
    if (found->second->shape != slot.shape)
      return "the first that differs is " + file_name(slot.name) + " " + shape_text(found->second->shape) +
             ", where the model's " + slot.name + " is " + shape_text(slot.shape);
  }
  std::set<std::string_view> slot_names;  // a model 40,000 layers deep has 80,000 tensors to look up
  for (const TensorSlot& slot : expected) slot_names.insert(slot.name);
  for (const auto& [name, tensor] : by_name)
    if (!slot_names.contains(name))
      return "tensor " + file_name(name) + " " + shape_text(tensor->shape) + " is no layer of the model";
  return "";
}

}  // namespace

std::vector<Tensor> load_parameters(const std::filesystem::path& path, const ModelSpec& model) {
  SafetensorsFile file = read_safetensors(path);
  // An mlptune checkpoint also holds its optimizer's slots; starting from it takes the parameters only.
  std::erase_if(file.tensors, [](const Tensor& tensor) {
    return tensor.name.starts_with(kFirstMomentPrefix) || tensor.name.starts_with(kSecondMomentPrefix);
  });
  const std::vector<Tensor> as_named = file.tensors;
  const std::map<std::string, std::string> file_names = rename_to_layout(file.tensors);
  const ParameterLayout layout(model);
  const std::vector<TensorSlot>& expected = layout.tensors();
  std::map<std::string, Tensor*> by_name;
  for (Tensor& tensor : file.tensors) by_name[tensor.name] = &tensor;
  if (const std::string difference = first_difference(expected, by_name, file_names); !difference.empty())
    fail(path, "its tensors do not fit the model (" + std::to_string(model.input_width) + " inputs, hidden " +
                   (model.hidden.empty() ? std::string("none") : join(model.hidden, ",")) + ", " +
                   std::to_string(model.output_width) + " outputs): " + difference + "; expected " +
                   tensors_text(expected) + " (float32, float16, bfloat16 or float64); found " +
                   tensors_text(as_named) +
                   "; give --hidden the file's hidden widths (the input and output widths come from the data)");
  std::vector<Tensor> parameters;
  for (const TensorSlot& slot : expected) parameters.push_back(std::move(*by_name.at(slot.name)));
  check_finite(path, parameters);
  return parameters;
}

namespace {

std::vector<Tensor> state_tensors(const std::filesystem::path& name, const TrialState& state,
                                  bool with_optimizer_state) {
  std::vector<Tensor> tensors = state.parameters;
  if (with_optimizer_state) {
    append_moments(name, kFirstMomentPrefix, state.first_moment, state.parameters, tensors);
    append_moments(name, kSecondMomentPrefix, state.second_moment, state.parameters, tensors);
  }
  return tensors;
}

TrialState state_of(const std::filesystem::path& path, SafetensorsFile file) {
  TrialState state;
  state.model = model_entry(path, required_entry(path, file.metadata, kModelKey));
  state.step = integer_entry<std::int64_t>(path, file.metadata, kStepKey);
  state.epoch = integer_entry<int>(path, file.metadata, kEpochKey);
  state.best_validation_loss = double_entry(path, file.metadata, kBestValidationLossKey);
  state.epochs_since_best = integer_entry<int>(path, file.metadata, kEpochsSinceBestKey);

  std::map<std::string, Tensor> tensors;
  for (Tensor& tensor : file.tensors) tensors.emplace(tensor.name, std::move(tensor));
  // The tensors the model's parameters must be, in order: layers.{i}.weight (out, in), layers.{i}.bias (out).
  const ParameterLayout layout(state.model);
  const std::vector<TensorSlot>& expected = layout.tensors();
  state.parameters = take_group(path, tensors, expected, "", GroupPresence::required);
  state.first_moment = take_group(path, tensors, expected, kFirstMomentPrefix, GroupPresence::all_or_none);
  state.second_moment = take_group(path, tensors, expected, kSecondMomentPrefix, GroupPresence::all_or_none);
  if (!tensors.empty())
    fail(path,
         "tensor '" + tensors.begin()->first + "' is not a parameter or optimizer slot of the model in its metadata");
  for (const auto* group : {&state.parameters, &state.first_moment, &state.second_moment}) check_finite(path, *group);
  return state;
}

}  // namespace

void save_trial_state(const std::filesystem::path& path, const TrialState& state, bool with_optimizer_state,
                      const std::map<std::string, std::string>& extra_metadata) {
  write_safetensors(path, state_tensors(path, state, with_optimizer_state),
                    state_metadata(path, state, extra_metadata));
}

TrialState load_trial_state(const std::filesystem::path& path) {
  return state_of(path, read_safetensors(path));
}

std::string trial_state_bytes(const TrialState& state, bool with_optimizer_state,
                              const std::map<std::string, std::string>& extra_metadata, const std::string& name) {
  return safetensors_bytes(state_tensors(name, state, with_optimizer_state),
                           state_metadata(name, state, extra_metadata), name);
}

TrialState trial_state_from_bytes(const std::string& bytes, const std::string& name) {
  return state_of(name, read_safetensors_bytes(bytes, name));
}

}  // namespace mlptune
