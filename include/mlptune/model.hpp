// The model: an MLP described as data (widths, activation, loss, initialisation).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mlptune {

// gelu is the tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), the form cuBLASLt's
// GELU epilogue computes, so every backend evaluates the same function.
enum class Activation { relu, tanh, sigmoid, gelu, identity };
enum class Loss { softmax_cross_entropy, mse };
// he: normal(0, sqrt(2 / fan_in)); xavier: uniform(±sqrt(6 / (fan_in + fan_out))); biases zero.
enum class Init { he, xavier };

// One dense layer: y = activation(x · Wᵀ + b) with W of shape (out, in), as torch.nn.Linear.
struct LayerShape {
  int in = 0;
  int out = 0;
  std::int64_t weight_count() const { return std::int64_t(in) * out; }
  std::int64_t bias_count() const { return out; }
  std::int64_t parameter_count() const { return weight_count() + bias_count(); }
};

struct ModelSpec {
  int input_width = 0;
  std::vector<int> hidden;  // empty: linear (mse) or logistic/softmax (cross-entropy) regression
  int output_width = 0;
  Activation activation = Activation::relu;  // on hidden layers; the output layer is affine
  Loss loss = Loss::softmax_cross_entropy;
  Init init = Init::he;

  std::vector<LayerShape> layers() const;  // hidden.size() + 1 layers
  std::int64_t parameter_count() const;
  // Throws ConfigError naming the bad field (width 0, no input, ...).
  void validate() const;
  bool operator==(const ModelSpec&) const = default;
};

std::string_view to_string(Activation);
std::string_view to_string(Loss);
std::string_view to_string(Init);
// Parsers throw ConfigError listing the accepted names.
Activation parse_activation(std::string_view);
Loss parse_loss(std::string_view);
Init parse_init(std::string_view);

}  // namespace mlptune
