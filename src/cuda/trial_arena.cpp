// The layout of one trial's device arena.
#include "cuda/trial_arena.hpp"

#include <algorithm>
#include <cstddef>
#include <string>

#include "mlptune/error.hpp"

namespace mlptune::cuda {
namespace {

// A field of a device-side record, by address (offsetof: the record itself is not on the host).
template <class Field, class Record>
Field* field_at(Record* record, std::size_t offset) {
  return reinterpret_cast<Field*>(reinterpret_cast<unsigned char*>(record) + offset);
}

// One tensor of a flat parameter-shaped array; empty while the arena is only measured.
std::span<float> slice(std::span<float> flat, const TensorSlot& tensor) {
  return flat.empty() ? std::span<float>() : flat.subspan(tensor.offset, tensor.count);
}

}  // namespace

ArenaViews lay_out_arena(const ArenaShape& shape, const ParameterLayout& parameters, ArenaPlan& plan) {
  if (parameters.alignment() % kParameterAlignment != 0)
    throw ConfigError("the trial's parameter layout is aligned to " + std::to_string(parameters.alignment()) +
                      " floats; its GPU arena needs a multiple of " + std::to_string(kParameterAlignment));
  if (parameters.layer_count() != shape.layers.size())
    throw ConfigError("the trial's parameter layout has " + std::to_string(parameters.layer_count()) +
                      " layers, the shape " + std::to_string(shape.layers.size()));
  const std::size_t capacity = shape.rows_capacity;
  const std::size_t flat = parameters.flat_size();
  std::size_t widest_output = 0;
  for (const LayerShape& layer : shape.layers) widest_output = std::max(widest_output, std::size_t(layer.out));
  ArenaViews views;
  views.parameters = plan.reserve<float>("parameters", flat);
  views.gradients = plan.reserve<float>("gradients", flat);
  views.first = plan.reserve<float>("first_moment", shape.optimizer_slots >= 1 ? flat : 0);
  views.second = plan.reserve<float>("second_moment", shape.optimizer_slots >= 2 ? flat : 0);
  views.x = plan.reserve<float>("x", capacity * std::size_t(shape.input_width)).data();
  const std::size_t grad_count = shape.train_batch * widest_output;
  views.grad_a = plan.reserve<float>("grad_a", grad_count).data();
  views.grad_b = plan.reserve<float>("grad_b", grad_count).data();
  views.labels = plan.reserve<std::int32_t>("labels", capacity).data();
  views.targets = plan.reserve<float>("targets", capacity * std::size_t(shape.output_width)).data();
  views.sample_loss = plan.reserve<float>("sample_loss", capacity).data();
  views.correct = plan.reserve<std::int32_t>("correct", capacity).data();
  views.trial = plan.reserve<DeviceTrial>("trial", 1).data();
  views.evaluation = plan.reserve<MetricSums>("evaluation", 1).data();
  views.learning_rates = plan.reserve<double>("learning_rates", shape.steps_per_epoch).data();
  views.gradient_partials = plan.reserve<double>("gradient_partials", shape.gradient_partials).data();
  views.order = plan.reserve<std::uint32_t>("order", shape.train_rows).data();
  views.shuffle_workspace = plan.reserve<unsigned char>("shuffle_workspace", shape.shuffle_workspace_bytes);
  views.epilogue_workspace = plan.reserve<unsigned char>("epilogue_workspace", shape.epilogue_workspace_bytes);
  for (std::size_t l = 0; l < shape.layers.size(); ++l) {
    const std::size_t activations = capacity * std::size_t(shape.layers[l].out);
    const bool hidden = l + 1 < shape.layers.size();
    const std::string name = "layers." + std::to_string(l);
    LayerViews layer;
    layer.pre = plan.reserve<float>(name + ".pre", activations).data();
    layer.out = plan.reserve<float>(name + ".out", hidden ? activations : 0).data();
    const std::size_t mask_bytes = shape.train_batch * std::size_t(relu_mask_bits(shape.layers[l].out)) / 8;
    layer.relu_mask =
        plan.reserve<unsigned char>(name + ".relu_mask", hidden && shape.relu_masks ? mask_bytes : 0).data();
    layer.weight = slice(views.parameters, parameters.weight(l));
    layer.bias = slice(views.parameters, parameters.bias(l));
    layer.weight_gradient = slice(views.gradients, parameters.weight(l));
    layer.bias_gradient = slice(views.gradients, parameters.bias(l));
    views.layers.push_back(layer);
  }
  if (views.trial != nullptr) {
    views.trial_batch_first_row = field_at<std::int64_t>(views.trial, offsetof(DeviceTrial, batch_first_row));
    views.trial_step = field_at<std::int64_t>(views.trial, offsetof(DeviceTrial, step));
    views.trial_train = field_at<MetricSums>(views.trial, offsetof(DeviceTrial, train));
    views.trial_nonfinite = field_at<std::int32_t>(views.trial_train, offsetof(MetricSums, nonfinite));
  }
  return views;
}

}  // namespace mlptune::cuda
