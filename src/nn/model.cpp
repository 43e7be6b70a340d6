// ModelSpec: layer shapes, parameter counts, validation, and names of activations, losses, inits.
#include "mlptune/model.hpp"

#include <string>

#include "common/size_limits.hpp"
#include "mlptune/error.hpp"
#include "nn/enum_names.hpp"

namespace mlptune {
namespace {

void require_width_at_least(const std::string& field, int width, int minimum) {
  if (width < minimum)
    throw ConfigError(field + " must be >= " + std::to_string(minimum) + " (got " + std::to_string(width) + ")");
}

}  // namespace

std::vector<LayerShape> ModelSpec::layers() const {
  std::vector<LayerShape> shapes;
  shapes.reserve(hidden.size() + 1);
  int in = input_width;
  for (int width : hidden) {
    shapes.push_back({in, width});
    in = width;
  }
  shapes.push_back({in, output_width});
  return shapes;
}

std::int64_t ModelSpec::parameter_count() const {
  std::int64_t count = 0;  // saturates: a list of wide layers may exceed int64
  for (const LayerShape& layer : layers()) count = saturating_add(count, layer.parameter_count());
  return count;
}

void ModelSpec::validate() const {
  require_width_at_least("model input width", input_width, 1);
  if (std::int64_t(hidden.size()) > kMaxHiddenLayers)
    throw ConfigError("--hidden: " + std::to_string(hidden.size()) + " hidden layers; at most " +
                      std::to_string(kMaxHiddenLayers) + " are supported");
  for (std::size_t i = 0; i < hidden.size(); ++i)
    require_width_at_least("--hidden: width of hidden layer " + std::to_string(i), hidden[i], 1);
  // Softmax over one class is constant (loss 0, gradient 0): it needs two classes at least.
  const int minimum_outputs = loss == Loss::softmax_cross_entropy ? 2 : 1;
  require_width_at_least("model output width (" + std::string(to_string(loss)) + ")", output_width, minimum_outputs);
  const std::int64_t count = parameter_count();
  if (count > kMaxParameters)
    throw ConfigError("the model has " + saturated_count_text(count) + " parameters; at most " +
                      std::to_string(kMaxParameters) + " are supported: use narrower --hidden layers");
}

std::string_view to_string(Activation activation) {
  return detail::kActivationNames.name_of(activation);
}
std::string_view to_string(Loss loss) {
  return detail::kLossNames.name_of(loss);
}
std::string_view to_string(Init init) {
  return detail::kInitNames.name_of(init);
}

Activation parse_activation(std::string_view text) {
  return detail::kActivationNames.parse(text);
}
Loss parse_loss(std::string_view text) {
  return detail::kLossNames.parse(text);
}
Init parse_init(std::string_view text) {
  return detail::kInitNames.parse(text);
}

}  // namespace mlptune
