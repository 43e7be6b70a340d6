// The reference math of one MLP training step, as plain loops with shapes in comments.
// The CPU backend is built on these (with BLAS for the matrix products); every CUDA launcher in
// kernels/<family>.cuh has its twin here, by name (kernels::gather_rows and ref::gather_rows) or,
// where the device fuses several steps in one kernel, one twin per step (the loss kernel's metrics:
// ref::count_correct, ref::accumulate_metrics), tested against it. Templates serve float (the
// backends) and double (finite-difference gradient checks). Only the device's step bookkeeping (the
// step's start in its gather, its end in the update) has no twin: the CPU trainer counts steps on
// the host (ref::optimizer_step).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "mlptune/model.hpp"
#include "mlptune/train_config.hpp"
#include "mlptune/trial.hpp"
#include "nn/metric_sums.hpp"

namespace mlptune::ref {

// --- activation (kernels/activation.cuh; activate and activate_derivative are its device functions) ---

// f(z) and f'(z) for one element.
template <class T>
T activate(Activation activation, T z);
template <class T>
T activate_derivative(Activation activation, T z);

// pre (B, N) = z + bias (broadcast over rows); out (B, N) = f(pre). `pre` may alias `z`.
template <class T>
void bias_activation_forward(Activation activation, const T* z, const T* bias, T* pre, T* out, int batch, int width);

// grad_pre (n) = grad_out · f'(pre). `grad_pre` may alias `grad_out`.
template <class T>
void activation_backward(Activation activation, const T* pre, const T* grad_out, T* grad_pre, std::size_t count);

// --- matrix products (cuBLAS in src/cuda/gemm.hpp: linear_forward_product, linear_weight_gradient,
// linear_input_gradient; the bias parts are kernels::bias_activation_forward and kernels::bias_gradient) ---

// y (B, out) = x (B, in) · Wᵀ + b, with W (out, in) and b (out).
template <class T>
void linear_forward(const T* x, const T* weight, const T* bias, T* y, int batch, int in, int out);

// Given grad_y (B, out): grad_weight (out, in) = grad_yᵀ · x; grad_bias (out) = Σ_batch grad_y;
// grad_x (B, in) = grad_y · W (skipped when grad_x is null, as for the first layer).
template <class T>
void linear_backward(const T* x, const T* weight, const T* grad_y, T* grad_x, T* grad_weight, T* grad_bias, int batch,
                     int in, int out);

// --- bias_gradient (kernels/activation.cuh's activation_bias_gradient, and the loss kernel's) ---

// Column sums: bias_grad (N) = Σ_rows grad (B, N).
template <class T>
void bias_gradient(const T* grad, T* bias_grad, int batch, int width);

// --- loss (kernels/loss.cuh) ---

// Softmax cross-entropy on logits (B, C) with labels (B): sample_loss (B) = -log softmax[label];
// grad (B, C) = (softmax - onehot) / B, the gradient of the batch-mean loss.
template <class T>
void softmax_cross_entropy(const T* logits, const std::int32_t* labels, T* sample_loss, T* grad, int batch,
                           int classes);

// Mean squared error on pred (B, K) vs target (B, K): sample_loss (B) = mean_k (p - t)²;
// grad (B, K) = 2 (p - t) / (B·K), the gradient of the mean over all B·K elements.
template <class T>
void mean_squared_error(const T* pred, const T* target, T* sample_loss, T* grad, int batch, int width);

// --- optimizer (kernels/optimizer.cuh; optimizer_step makes what the step's gather writes) ---

// One optimizer step on n parameters, as documented on Optimizer. `step` is 1-based (Adam's t).
// first/second hold the optimizer's slots (unused ones may be null).
struct OptimizerStep {
  Optimizer optimizer = Optimizer::adam;
  double learning_rate = 1e-3;
  double momentum = 0.9;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = 0.0;
  std::int64_t step = 1;
};
OptimizerStep optimizer_step(const TrainConfig& config, double learning_rate, std::int64_t step);

template <class T>
void optimizer_update(const OptimizerStep& update, T* parameters, const T* gradients, T* first, T* second,
                      std::size_t count);

// --- dropout (in kernels/activation.cuh's kernels: DropoutMask) ---

// Inverted dropout on a hidden layer's activations (torch.nn.Dropout in training): out (n) = x /
// (1 - rate) where rng::dropout_keeps(seed, steps_taken, layer, e, rate) for element e, else 0.
// `out` may alias `x`. Evaluation applies none.
template <class T>
void dropout_forward(const T* x, T* out, std::size_t count, float rate, std::uint64_t seed, std::int64_t steps_taken,
                     int layer);
// grad_x (n) = grad_out / (1 - rate) where the same mask kept the element, else 0. May alias.
template <class T>
void dropout_backward(const T* grad_out, T* grad_x, std::size_t count, float rate, std::uint64_t seed,
                      std::int64_t steps_taken, int layer);

// --- gradient clipping (kernels/gradient_clip.cuh) ---

// torch.nn.utils.clip_grad_norm_ over every gradient at once (one block of n): norm = sqrt(Σ g²)
// in double; when max_norm / (norm + 1e-6) < 1 every gradient is multiplied by that factor.
// Returns the norm before clipping. Runs before the optimizer adds weight decay.
template <class T>
double clip_gradient_norm(T* gradients, std::size_t count, double max_norm);

// --- metrics (the loss kernel's, kernels/loss.cuh; flag_nonfinite_values in kernels/metrics.cuh) ---

// correct (B) = 1 where the first index of the row maximum of scores (B, C) equals labels (B), else 0.
void count_correct(const float* scores, const std::int32_t* labels, std::int32_t* correct, int batch, int classes);

// metrics += (Σ sample_loss (B) in double, Σ correct (B) when correct is not null, B samples); the
// batch is summed first and then added, as the kernel adds its batch total. When a loss is NaN or
// ±Inf and metrics->nonfinite is still 0, sets it and records first_nonfinite_step =
// *step_counter + 1 (the step this loss belongs to; 0 when step_counter is null).
void accumulate_metrics(const float* sample_loss, const std::int32_t* correct, int batch, MetricSums* metrics,
                        const std::int64_t* step_counter);

// When any of values (n) is NaN or ±Inf and metrics->nonfinite is still 0, sets it and records
// first_nonfinite_step = *step_counter: the update that made parameters non-finite.
void flag_nonfinite_values(const float* values, std::size_t count, MetricSums* metrics,
                           const std::int64_t* step_counter);

// --- shuffle (kernels/shuffle.cuh) ---

// Row order of epoch `epoch` (0-based): indices 0..rows-1 sorted by rng::hash(seed,
// kShuffleStream + epoch, index), ties by index.
std::vector<std::uint32_t> epoch_permutation(std::uint64_t seed, int epoch, std::size_t rows);

// 0, 1, ..., rows-1: the row order when shuffle is off.
std::vector<std::uint32_t> identity_permutation(std::size_t rows);

// --- gather (kernels/gather.cuh) ---

// dst (B, cols) = src rows order[first .. first+B).
void gather_rows(const float* src, const std::uint32_t* order, std::size_t first, int batch, std::size_t cols,
                 float* dst);

// dst (B, cols) = fma(float(raw), column_scale[c], column_offset[c]) for the rows order[first ..
// first+B) of raw (rows, cols): exactly Dataset::features of a set kept as bytes.
void gather_scaled_bytes(const std::uint8_t* raw, const float* column_scale, const float* column_offset,
                         const std::uint32_t* order, std::size_t first, int batch, std::size_t cols, float* dst);

// dst (B) = labels[order[first .. first+B)].
void gather_labels(const std::int32_t* labels, const std::uint32_t* order, std::size_t first, int batch,
                   std::int32_t* dst);

// --- init (kernels/init.cuh) ---

// weight (out, in) of layer `layer`, element j = row·in + col, from the seed:
//   he:     sqrt(2/in)·normal(hash(seed, kInitStream + 2·layer, j), hash(seed, kInitStream + 2·layer + 1, j))
//   xavier: sqrt(6/(in + out))·(2·uniform01(hash(seed, kInitStream + 2·layer, j)) - 1)
void initialize_weights(Init init, std::uint64_t seed, int layer, int in, int out, float* weight);

// The whole model's initial parameters as tensors (layers.{i}.weight from the overload above,
// layers.{i}.bias zero), in ParameterLayout order.
std::vector<Tensor> initialize_weights(const ModelSpec& model, std::uint64_t seed);

}  // namespace mlptune::ref
