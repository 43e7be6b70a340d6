// Test helper: a whole MLP's loss and parameter gradients assembled from the reference functions
// (any element type), for finite-difference checks and for checking the CPU trainer's steps.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/reference.hpp"
#include "mlptune/model.hpp"

namespace mlptune::test {

// Parameter tensors in the order layers.0.weight, layers.0.bias, layers.1.weight, ...
template <class T>
using Parameters = std::vector<std::vector<T>>;

template <class T>
Parameters<T> to_parameters(const std::vector<Tensor>& tensors) {
  Parameters<T> parameters;
  for (const Tensor& tensor : tensors) parameters.emplace_back(tensor.data.begin(), tensor.data.end());
  return parameters;
}

// Mean loss over the batch; fills `gradients` (same layout as `parameters`) when not null.
// x (B, input_width); labels (B) for cross-entropy, targets (B, output_width) for mse.
template <class T>
T mlp_loss(const ModelSpec& model, const Parameters<T>& parameters, const T* x, const std::int32_t* labels,
           const T* targets, int batch, Parameters<T>* gradients) {
  const std::vector<LayerShape> layers = model.layers();
  std::vector<std::vector<T>> inputs{std::vector<T>(x, x + std::size_t(batch) * model.input_width)};
  std::vector<std::vector<T>> pre(layers.size());  // per layer (B, out)
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const LayerShape& layer = layers[i];
    pre[i].resize(std::size_t(batch) * layer.out);
    ref::linear_forward(inputs[i].data(), parameters[2 * i].data(), parameters[2 * i + 1].data(), pre[i].data(), batch,
                        layer.in, layer.out);
    std::vector<T> out(pre[i].size());
    for (std::size_t k = 0; k < out.size(); ++k) out[k] = ref::activate(model.activation, pre[i][k]);
    inputs.push_back(std::move(out));
  }
  const int width = model.output_width;
  std::vector<T> sample_loss(batch), delta(std::size_t(batch) * width);  // delta (B, out): d loss / d pre
  if (model.loss == Loss::softmax_cross_entropy)
    ref::softmax_cross_entropy(pre.back().data(), labels, sample_loss.data(), delta.data(), batch, width);
  else
    ref::mean_squared_error(pre.back().data(), targets, sample_loss.data(), delta.data(), batch, width);
  T loss = T(0);
  for (T value : sample_loss) loss += value;
  loss /= T(batch);
  if (gradients == nullptr) return loss;

  gradients->assign(parameters.size(), {});
  for (std::size_t i = layers.size(); i-- > 0;) {
    const LayerShape& layer = layers[i];
    (*gradients)[2 * i].resize(parameters[2 * i].size());
    (*gradients)[2 * i + 1].resize(parameters[2 * i + 1].size());
    std::vector<T> grad_x(i > 0 ? std::size_t(batch) * layer.in : 0);  // (B, in)
    ref::linear_backward(inputs[i].data(), parameters[2 * i].data(), delta.data(), i > 0 ? grad_x.data() : nullptr,
                         (*gradients)[2 * i].data(), (*gradients)[2 * i + 1].data(), batch, layer.in, layer.out);
    if (i == 0) break;
    delta.assign(grad_x.size(), T(0));
    ref::activation_backward(model.activation, pre[i - 1].data(), grad_x.data(), delta.data(), grad_x.size());
  }
  return loss;
}

}  // namespace mlptune::test
