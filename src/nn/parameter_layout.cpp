// The flat parameter layout shared by the backends, the trainer core and the reference.
#include "nn/parameter_layout.hpp"

#include <algorithm>
#include <utility>

#include "common/shape_text.hpp"
#include "mlptune/error.hpp"

namespace mlptune {

ParameterLayout::ParameterLayout(const ModelSpec& model, std::size_t alignment) : alignment_(alignment) {
  if (alignment == 0) throw ConfigError("a parameter layout needs an alignment of at least 1 element");
  const std::vector<LayerShape> layers = model.layers();
  const auto add = [&](std::string name, std::vector<std::int64_t> shape, std::size_t count) {
    const std::size_t offset = (flat_size_ + alignment - 1) / alignment * alignment;
    tensors_.push_back({std::move(name), std::move(shape), offset, count});
    parameter_count_ += count;
    flat_size_ = offset + count;
  };
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::string prefix = "layers." + std::to_string(i);
    add(prefix + ".weight", {layers[i].out, layers[i].in}, static_cast<std::size_t>(layers[i].weight_count()));
    add(prefix + ".bias", {layers[i].out}, static_cast<std::size_t>(layers[i].bias_count()));
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
  std::vector<float> flat(flat_size_, 0.0f);
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
