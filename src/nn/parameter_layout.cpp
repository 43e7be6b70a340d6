// The flat parameter layout shared by the backends, the trainer core and the reference.
#include "nn/parameter_layout.hpp"

#include <algorithm>

#include "common/shape_text.hpp"
#include "mlptune/error.hpp"

namespace mlptune {

ParameterLayout::ParameterLayout(const ModelSpec& model) {
  const std::vector<LayerShape> layers = model.layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::string prefix = "layers." + std::to_string(i);
    const auto weights = static_cast<std::size_t>(layers[i].weight_count());
    const auto biases = static_cast<std::size_t>(layers[i].bias_count());
    tensors_.push_back({prefix + ".weight", {layers[i].out, layers[i].in}, parameter_count_, weights});
    parameter_count_ += weights;
    tensors_.push_back({prefix + ".bias", {layers[i].out}, parameter_count_, biases});
    parameter_count_ += biases;
  }
}

std::vector<Tensor> ParameterLayout::to_tensors(std::span<const float> flat) const {
  std::vector<Tensor> tensors;
  tensors.reserve(tensors_.size());
  for (const TensorSlot& slot : tensors_) {
    const std::span<const float> values = flat.subspan(slot.offset, slot.count);
    tensors.push_back(Tensor{slot.name, slot.shape, std::vector<float>(values.begin(), values.end())});
  }
  return tensors;
}

void ParameterLayout::check(const std::vector<Tensor>& tensors, const char* what) const {
  if (tensors.size() != tensors_.size())
    throw ConfigError(std::string("trial state: ") + what + " has " + std::to_string(tensors.size()) +
                      " tensors; the model has " + std::to_string(tensors_.size()));
  for (std::size_t t = 0; t < tensors_.size(); ++t) {
    const Tensor& tensor = tensors[t];
    const TensorSlot& slot = tensors_[t];
    if (tensor.name != slot.name || tensor.shape != slot.shape || tensor.data.size() != slot.count)
      throw ConfigError(std::string("trial state: ") + what + " tensor " + std::to_string(t) + " is '" + tensor.name +
                        "' " + shape_text(tensor.shape) + " with " + std::to_string(tensor.data.size()) +
                        " values; expected '" + slot.name + "' " + shape_text(slot.shape));
  }
}

std::vector<float> ParameterLayout::to_flat(const std::vector<Tensor>& tensors, const char* what) const {
  check(tensors, what);
  std::vector<float> flat(parameter_count_);
  for (std::size_t t = 0; t < tensors_.size(); ++t)
    std::copy(tensors[t].data.begin(), tensors[t].data.end(), flat.begin() + std::ptrdiff_t(tensors_[t].offset));
  return flat;
}

int optimizer_slot_count(Optimizer optimizer) {
  switch (optimizer) {
    case Optimizer::sgd:
      return 0;
    case Optimizer::momentum:
    case Optimizer::nesterov:
      return 1;
    case Optimizer::adam:
    case Optimizer::adamw:
      return 2;
  }
  throw ConfigError("optimizer_slot_count: unknown optimizer");
}

}  // namespace mlptune
