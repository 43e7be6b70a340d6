// Hyperparameters of one training run: optimizer and its constants, schedule, batch, epochs, seed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mlptune {

// Update rules follow torch.optim (weight decay applies to every parameter):
//   sgd:      g += wd·p;  p -= lr·g
//   momentum: g += wd·p;  buf = μ·buf + g;  p -= lr·buf
//   nesterov: g += wd·p;  buf = μ·buf + g;  p -= lr·(g + μ·buf)
//   adam:     g += wd·p;  m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²;
//             p -= lr · (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + ε)
//   adamw:    p -= lr·wd·p; then adam without the g += wd·p term
enum class Optimizer { sgd, momentum, nesterov, adam, adamw };
// constant; step: lr·gamma^floor(epoch / step_epochs); cosine: to 0 over all epochs.
// Each with optional linear warm-up from 0 over warmup_epochs (fractional allowed).
enum class Schedule { constant, step, cosine };
// fp32: exact float math. tf32: tensor-core matrix products with 10-bit mantissa inputs (CUDA only;
// the CPU backend computes fp32). bf16: reserved for a later engine; parse_precision and validate refuse it.
enum class Precision { fp32, tf32, bf16 };

struct TrainConfig {
  Optimizer optimizer = Optimizer::adam;
  double learning_rate = 1e-3;
  double momentum = 0.9;  // momentum, nesterov
  double beta1 = 0.9;     // adam, adamw
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = 0.0;
  // Regularisation: inverted dropout at this rate after each hidden activation, in training only
  // (torch.nn.Dropout); gradients clipped to this global L2 norm before each update
  // (torch.nn.utils.clip_grad_norm_). 0 turns either off.
  double dropout = 0.0;
  double clip_norm = 0.0;

  Schedule schedule = Schedule::constant;
  double warmup_epochs = 0.0;
  int step_epochs = 10;     // step schedule: epochs between decays
  double step_gamma = 0.1;  // step schedule: factor per decay

  int batch_size = 128;
  int epochs = 10;
  bool shuffle = true;
  int early_stopping_patience = 0;  // 0: off; else stop after this many epochs without a better val loss

  std::uint64_t seed = 0;
  Precision precision = Precision::fp32;

  // Throws SettingError naming the setting and the accepted range ("--lr must be > 0 and finite (got -1)").
  void validate() const;
  bool operator==(const TrainConfig&) const = default;
};

// The smallest value validate() accepts for a count: batch_size, epochs, step_epochs or early_stopping
// (the largest is int's). Throws std::invalid_argument for other names.
int smallest_count(std::string_view setting);

// Learning rate for global step `step` (0-based) with `steps_per_epoch` steps per epoch.
double learning_rate_at(const TrainConfig& config, std::int64_t step, std::int64_t steps_per_epoch);

std::string_view to_string(Optimizer);
std::string_view to_string(Schedule);
std::string_view to_string(Precision);
Optimizer parse_optimizer(std::string_view);
Schedule parse_schedule(std::string_view);
Precision parse_precision(std::string_view);

}  // namespace mlptune
