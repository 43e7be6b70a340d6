// The reference math of one MLP training step as plain loops, instantiated for float and double.
#include "cpu/reference.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <experimental/simd>
#include <limits>
#include <numeric>
#include <string>
#include <utility>

#include "common/counter_rng.hpp"
#include "cpu/activation_functions.hpp"
#include "nn/parameter_layout.hpp"

namespace mlptune::ref {

namespace stdx = std::experimental;

template <class T>
T activate(Activation activation, T z) {
  return detail::with_activation<T>(activation, [z](auto function) { return function.value(z); });
}

template <class T>
T activate_derivative(Activation activation, T z) {
  return detail::with_activation<T>(activation, [z](auto function) { return function.derivative(z); });
}

template <class T>
void linear_forward(const T* x, const T* weight, const T* bias, T* y, int batch, int in, int out) {
  for (int b = 0; b < batch; ++b) {
    const T* x_row = x + std::size_t(b) * in;  // (in)
    for (int o = 0; o < out; ++o) {
      const T* w_row = weight + std::size_t(o) * in;  // (in)
      T sum = bias ? bias[o] : T(0);
      for (int i = 0; i < in; ++i) sum += x_row[i] * w_row[i];
      y[std::size_t(b) * out + o] = sum;
    }
  }
}

template <class T>
void linear_backward(const T* x, const T* weight, const T* grad_y, T* grad_x, T* grad_weight, T* grad_bias, int batch,
                     int in, int out) {
  // grad_weight (out, in) = grad_yᵀ (out, B) · x (B, in)
  std::fill(grad_weight, grad_weight + std::size_t(out) * in, T(0));
  for (int b = 0; b < batch; ++b)
    for (int o = 0; o < out; ++o) {
      const T g = grad_y[std::size_t(b) * out + o];
      for (int i = 0; i < in; ++i) grad_weight[std::size_t(o) * in + i] += g * x[std::size_t(b) * in + i];
    }
  bias_gradient(grad_y, grad_bias, batch, out);
  if (grad_x == nullptr) return;
  // grad_x (B, in) = grad_y (B, out) · W (out, in)
  std::fill(grad_x, grad_x + std::size_t(batch) * in, T(0));
  for (int b = 0; b < batch; ++b)
    for (int o = 0; o < out; ++o) {
      const T g = grad_y[std::size_t(b) * out + o];
      for (int i = 0; i < in; ++i) grad_x[std::size_t(b) * in + i] += g * weight[std::size_t(o) * in + i];
    }
}

namespace {

// The elementwise loops, one instantiation per activation function F. The pointers are plain
// parameters (not lambda captures, which the compiler must reload after every store), and the
// buffers alias only element for element (pre == z, out == pre, grad_pre == grad_out), never
// shifted: no dependence between iterations, so `ivdep` lets the loops vectorise without a runtime
// alias check (which fails for equal pointers and falls back to scalar code).
template <class F, class T>
void bias_activation_rows(const T* z, const T* bias, T* pre, T* out, int batch, int width) {
  for (int b = 0; b < batch; ++b) {
    const std::size_t row = std::size_t(b) * width;
#pragma GCC ivdep
    for (int c = 0; c < width; ++c) {
      const T value = z[row + c] + bias[c];
      pre[row + c] = value;
      out[row + c] = F::value(value);
    }
  }
}

template <class F, class T>
void activation_backward_elements(const T* pre, const T* grad_out, T* grad_pre, std::size_t count) {
#pragma GCC ivdep
  for (std::size_t i = 0; i < count; ++i) {
    const T slope = F::derivative(pre[i]);  // before the load of grad_out: GCC 12 then if-converts relu's branch
    grad_pre[i] = grad_out[i] * slope;
  }
}

}  // namespace

template <class T>
void bias_activation_forward(Activation activation, const T* z, const T* bias, T* pre, T* out, int batch, int width) {
  detail::with_activation<T>(activation, [&]<class F>(F) { bias_activation_rows<F>(z, bias, pre, out, batch, width); });
}

template <class T>
void activation_backward(Activation activation, const T* pre, const T* grad_out, T* grad_pre, std::size_t count) {
  detail::with_activation<T>(activation,
                             [&]<class F>(F) { activation_backward_elements<F>(pre, grad_out, grad_pre, count); });
}

template <class T>
void bias_gradient(const T* grad, T* bias_grad, int batch, int width) {
  std::fill(bias_grad, bias_grad + width, T(0));
  for (int b = 0; b < batch; ++b) {
    const T* row = grad + std::size_t(b) * width;  // (N)
    for (int c = 0; c < width; ++c) bias_grad[c] += row[c];
  }
}

template <class T>
void softmax_cross_entropy(const T* logits, const std::int32_t* labels, T* sample_loss, T* grad, int batch,
                           int classes) {
  const T inverse_batch = T(1) / T(batch);
  for (int b = 0; b < batch; ++b) {
    const T* row = logits + std::size_t(b) * classes;  // (C)
    T* grad_row = grad + std::size_t(b) * classes;     // (C)
    const T row_max = *std::max_element(row, row + classes);
    T exp_sum = T(0);
    for (int c = 0; c < classes; ++c) {
      grad_row[c] = std::exp(row[c] - row_max);
      exp_sum += grad_row[c];
    }
    // -log softmax[label] = log Σ exp(l - max) - (l[label] - max): no overflow, and no rounding of
    // a small loss against a large max.
    sample_loss[b] = std::log(exp_sum) - (row[labels[b]] - row_max);
    const T scale = inverse_batch / exp_sum;
    for (int c = 0; c < classes; ++c) grad_row[c] *= scale;
    grad_row[labels[b]] -= inverse_batch;
  }
}

template <class T>
void mean_squared_error(const T* pred, const T* target, T* sample_loss, T* grad, int batch, int width) {
  const T grad_scale = T(2) / (T(batch) * T(width));
  for (int b = 0; b < batch; ++b) {
    const std::size_t row = std::size_t(b) * width;
    T squared_sum = T(0);
    for (int k = 0; k < width; ++k) {
      const T difference = pred[row + k] - target[row + k];
      squared_sum += difference * difference;
      grad[row + k] = grad_scale * difference;
    }
    sample_loss[b] = squared_sum / T(width);
  }
}

OptimizerStep optimizer_step(const TrainConfig& config, double learning_rate, std::int64_t step) {
  return {config.optimizer, learning_rate,  config.momentum,     config.beta1,
          config.beta2,     config.epsilon, config.weight_decay, step};
}

namespace {

// sgd: g += wd·p; p -= lr·g
template <class T>
void sgd_update(const OptimizerStep& update, T* parameters, const T* gradients, std::size_t count) {
  const T lr = T(update.learning_rate), decay = T(update.weight_decay);
  for (std::size_t i = 0; i < count; ++i) parameters[i] -= lr * (gradients[i] + decay * parameters[i]);
}

// momentum: buf = μ·buf + g; p -= lr·buf.  nesterov: p -= lr·(g + μ·buf).
template <class T, bool nesterov>
void momentum_update(const OptimizerStep& update, T* parameters, const T* gradients, T* velocity, std::size_t count) {
  const T lr = T(update.learning_rate), decay = T(update.weight_decay), mu = T(update.momentum);
  for (std::size_t i = 0; i < count; ++i) {
    const T gradient = gradients[i] + decay * parameters[i];
    velocity[i] = mu * velocity[i] + gradient;
    parameters[i] -= lr * (nesterov ? gradient + mu * velocity[i] : velocity[i]);
  }
}

// adam and adamw in one pass. p -= lr·(m/(1-β1^t)) / (sqrt(v/(1-β2^t)) + ε) is computed as
// p -= (lr/(1-β1^t))·m / (sqrt(v)/sqrt(1-β2^t) + ε), as torch.optim.Adam does.
// The loop runs on SIMD vectors (std::experimental::simd) and then on the scalar tail, with one
// formula for both: std::sqrt may set errno, which keeps the compiler from vectorising a plain
// loop that calls it (about 5x slower on 270k parameters); the vector sqrt sets no errno.
template <class T>
void adam_update(const OptimizerStep& update, T* parameters, const T* gradients, T* m, T* v, std::size_t count) {
  const bool decoupled = update.optimizer == Optimizer::adamw;
  const double t = static_cast<double>(update.step);
  const T step_size = T(update.learning_rate / (1.0 - std::pow(update.beta1, t)));
  const T inverse_sqrt_correction2 = T(1.0 / std::sqrt(1.0 - std::pow(update.beta2, t)));
  const T coupled_decay = T(decoupled ? 0.0 : update.weight_decay);
  const T keep = T(decoupled ? 1.0 - update.learning_rate * update.weight_decay : 1.0);
  const T beta1 = T(update.beta1), beta2 = T(update.beta2), epsilon = T(update.epsilon);
  const T one_minus_beta1 = T(1.0 - update.beta1), one_minus_beta2 = T(1.0 - update.beta2);
  // One element, or one vector of elements: V is T or simd<T>.
  auto update_element = [&]<class V>(V& parameter, V gradient, V& first, V& second) {
    using std::sqrt, stdx::sqrt;
    gradient = gradient + coupled_decay * parameter;
    first = beta1 * first + one_minus_beta1 * gradient;
    second = beta2 * second + one_minus_beta2 * gradient * gradient;
    parameter = keep * parameter - step_size * first / (sqrt(second) * inverse_sqrt_correction2 + epsilon);
  };
  using Vector = stdx::native_simd<T>;
  std::size_t i = 0;
  for (; i + Vector::size() <= count; i += Vector::size()) {
    Vector parameter(parameters + i, stdx::element_aligned), gradient(gradients + i, stdx::element_aligned);
    Vector first(m + i, stdx::element_aligned), second(v + i, stdx::element_aligned);
    update_element(parameter, gradient, first, second);
    parameter.copy_to(parameters + i, stdx::element_aligned);
    first.copy_to(m + i, stdx::element_aligned);
    second.copy_to(v + i, stdx::element_aligned);
  }
  for (; i < count; ++i) update_element(parameters[i], gradients[i], m[i], v[i]);
}

}  // namespace

template <class T>
void optimizer_update(const OptimizerStep& update, T* parameters, const T* gradients, T* first, T* second,
                      std::size_t count) {
  switch (update.optimizer) {
    case Optimizer::sgd:
      return sgd_update(update, parameters, gradients, count);
    case Optimizer::momentum:
      return momentum_update<T, false>(update, parameters, gradients, first, count);
    case Optimizer::nesterov:
      return momentum_update<T, true>(update, parameters, gradients, first, count);
    case Optimizer::adam:
    case Optimizer::adamw:
      return adam_update(update, parameters, gradients, first, second, count);
  }
}

void count_correct(const float* scores, const std::int32_t* labels, std::int32_t* correct, int batch, int classes) {
  for (int b = 0; b < batch; ++b) {
    const float* row = scores + std::size_t(b) * classes;  // (C)
    correct[b] = (std::max_element(row, row + classes) - row) == labels[b] ? 1 : 0;
  }
}

void accumulate_metrics(const float* sample_loss, const std::int32_t* correct, int batch, MetricSums* metrics,
                        const std::int64_t* step_counter) {
  double loss = 0.0;
  std::int64_t right = 0;
  bool bad = false;
  for (int i = 0; i < batch; ++i) {
    loss += double(sample_loss[i]);
    bad = bad || !std::isfinite(sample_loss[i]);
    if (correct != nullptr) right += correct[i];
  }
  metrics->loss_sum += loss;
  metrics->correct += right;
  metrics->samples += batch;
  if (bad && metrics->nonfinite == 0) {
    metrics->nonfinite = 1;
    metrics->first_nonfinite_step = step_counter != nullptr ? *step_counter + 1 : 0;
  }
}

void flag_nonfinite_values(const float* values, std::size_t count, MetricSums* metrics,
                           const std::int64_t* step_counter) {
  if (metrics->nonfinite != 0) return;
  if (std::all_of(values, values + count, [](float value) { return std::isfinite(value); })) return;
  metrics->nonfinite = 1;
  metrics->first_nonfinite_step = *step_counter;
}

std::vector<std::uint32_t> epoch_permutation(std::uint64_t seed, int epoch, std::size_t rows) {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> keyed(rows);  // (hash, index)
  const std::uint64_t stream = rng::kShuffleStream + static_cast<std::uint64_t>(epoch);
  for (std::size_t i = 0; i < rows; ++i) keyed[i] = {rng::hash(seed, stream, i), static_cast<std::uint32_t>(i)};
  std::sort(keyed.begin(), keyed.end());  // by hash, ties by index: the order of a stable sort
  std::vector<std::uint32_t> order(rows);
  for (std::size_t i = 0; i < rows; ++i) order[i] = keyed[i].second;
  return order;
}

std::vector<std::uint32_t> identity_permutation(std::size_t rows) {
  std::vector<std::uint32_t> order(rows);
  std::iota(order.begin(), order.end(), 0u);
  return order;
}

void gather_rows(const float* src, const std::uint32_t* order, std::size_t first, int batch, std::size_t cols,
                 float* dst) {
  for (int b = 0; b < batch; ++b)
    std::memcpy(dst + std::size_t(b) * cols, src + std::size_t(order[first + b]) * cols, cols * sizeof(float));
}

void gather_scaled_bytes(const std::uint8_t* raw, const float* column_scale, const float* column_offset,
                         const std::uint32_t* order, std::size_t first, int batch, std::size_t cols, float* dst) {
  for (int b = 0; b < batch; ++b) {
    const std::uint8_t* row = raw + std::size_t(order[first + b]) * cols;  // (cols)
    float* out = dst + std::size_t(b) * cols;                              // (cols)
    for (std::size_t c = 0; c < cols; ++c) out[c] = std::fma(float(row[c]), column_scale[c], column_offset[c]);
  }
}

void gather_labels(const std::int32_t* labels, const std::uint32_t* order, std::size_t first, int batch,
                   std::int32_t* dst) {
  for (int b = 0; b < batch; ++b) dst[b] = labels[order[first + b]];
}

namespace {

// Weight element j of a layer (in, out) from its two hash streams (biases are zero).
float initial_weight(Init init, std::uint64_t seed, std::uint64_t stream, int in, int out, std::uint64_t j) {
  if (init == Init::he) {
    const float scale = static_cast<float>(std::sqrt(2.0 / in));
    return scale * rng::normal(rng::hash(seed, stream, j), rng::hash(seed, stream + 1, j));
  }
  const float limit = static_cast<float>(std::sqrt(6.0 / (in + out)));
  return limit * (2.0f * rng::uniform01(rng::hash(seed, stream, j)) - 1.0f);
}

}  // namespace

void initialize_weights(Init init, std::uint64_t seed, int layer, int in, int out, float* weight) {
  const std::uint64_t stream = rng::kInitStream + 2 * std::uint64_t(layer);
  const std::size_t count = std::size_t(in) * std::size_t(out);
  for (std::size_t j = 0; j < count; ++j) weight[j] = initial_weight(init, seed, stream, in, out, j);
}

std::vector<Tensor> initialize_weights(const ModelSpec& model, std::uint64_t seed) {
  const ParameterLayout layout(model);
  const std::vector<LayerShape> layers = model.layers();
  std::vector<float> flat(layout.parameter_count(), 0.0f);
  for (std::size_t i = 0; i < layers.size(); ++i)
    initialize_weights(model.init, seed, int(i), layers[i].in, layers[i].out, flat.data() + layout.weight(i).offset);
  return layout.to_tensors(flat);
}

namespace {

// out (n) = in · 1/(1 - rate) where the mask keeps the element, else 0: dropout's forward and
// backward are the same map.
template <class T>
void apply_dropout_mask(const T* in, T* out, std::size_t count, float rate, std::uint64_t seed,
                        std::int64_t steps_taken, int layer) {
  const T scale = T(1) / (T(1) - T(rate));
  for (std::size_t e = 0; e < count; ++e)
    out[e] = rng::dropout_keeps(seed, steps_taken, layer, e, rate) ? in[e] * scale : T(0);
}

}  // namespace

template <class T>
void dropout_forward(const T* x, T* out, std::size_t count, float rate, std::uint64_t seed, std::int64_t steps_taken,
                     int layer) {
  apply_dropout_mask(x, out, count, rate, seed, steps_taken, layer);
}

template <class T>
void dropout_backward(const T* grad_out, T* grad_x, std::size_t count, float rate, std::uint64_t seed,
                      std::int64_t steps_taken, int layer) {
  apply_dropout_mask(grad_out, grad_x, count, rate, seed, steps_taken, layer);
}

template <class T>
double clip_gradient_norm(T* gradients, std::size_t count, double max_norm) {
  double squares = 0.0;
  for (std::size_t i = 0; i < count; ++i) squares += double(gradients[i]) * double(gradients[i]);
  const double norm = std::sqrt(squares);
  const double factor = max_norm / (norm + 1e-6);  // torch's clip_coef
  if (factor < 1.0)
    for (std::size_t i = 0; i < count; ++i) gradients[i] = T(double(gradients[i]) * factor);
  return norm;
}

#define MLPTUNE_INSTANTIATE_REFERENCE(T)                                                                 \
  template T activate<T>(Activation, T);                                                                 \
  template T activate_derivative<T>(Activation, T);                                                      \
  template void linear_forward<T>(const T*, const T*, const T*, T*, int, int, int);                      \
  template void linear_backward<T>(const T*, const T*, const T*, T*, T*, T*, int, int, int);             \
  template void bias_activation_forward<T>(Activation, const T*, const T*, T*, T*, int, int);            \
  template void activation_backward<T>(Activation, const T*, const T*, T*, std::size_t);                 \
  template void bias_gradient<T>(const T*, T*, int, int);                                                \
  template void softmax_cross_entropy<T>(const T*, const std::int32_t*, T*, T*, int, int);               \
  template void mean_squared_error<T>(const T*, const T*, T*, T*, int, int);                             \
  template void optimizer_update<T>(const OptimizerStep&, T*, const T*, T*, T*, std::size_t);            \
  template void dropout_forward<T>(const T*, T*, std::size_t, float, std::uint64_t, std::int64_t, int);  \
  template void dropout_backward<T>(const T*, T*, std::size_t, float, std::uint64_t, std::int64_t, int); \
  template double clip_gradient_norm<T>(T*, std::size_t, double);

MLPTUNE_INSTANTIATE_REFERENCE(float)
MLPTUNE_INSTANTIATE_REFERENCE(double)

#undef MLPTUNE_INSTANTIATE_REFERENCE

}  // namespace mlptune::ref
