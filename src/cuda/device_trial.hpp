// The per-trial record kept in device memory: optimizer constants, the step counter, the current
// step's learning rate and batch offset, and the epoch's metrics. Kernels read their constants
// from here (never from launch arguments), so a captured step graph replays with a changing
// learning rate and step, and a later multi-trial engine can keep one record per trial in a table.
#pragma once

#include <cstdint>

#include "nn/metric_sums.hpp"

namespace mlptune::cuda {

// Optimizer codes as stored on the device (the values of mlptune::Optimizer).
enum class DeviceOptimizer : std::int32_t { sgd = 0, momentum = 1, nesterov = 2, adam = 3, adamw = 4 };

struct DeviceTrial {
  // Constant for the trial's life (written by the host when it is made or loaded). Doubles, as
  // in TrainConfig; the update kernel rounds them to float once per thread.
  double momentum = 0.0;
  double beta1 = 0.0;
  double beta2 = 0.0;
  double epsilon = 0.0;
  double weight_decay = 0.0;
  std::int32_t optimizer = 0;   // DeviceOptimizer
  std::int32_t batch_size = 0;  // rows of a full batch
  std::uint64_t seed = 0;       // the trial's seed: dropout masks derive from it (rng::dropout_keeps)
  float dropout = 0.0f;         // rate after each hidden activation (0: none)
  float padding = 0.0f;
  double clip_norm = 0.0;  // gradients' largest global L2 norm (0: no clipping)

  // Written by the host at the start of each epoch.
  std::int64_t epoch_first_step = 0;  // global step (0-based) of the epoch's first batch

  // Advanced on the device by the update kernel, which ends the step: optimizer steps taken (Adam's t after the
  // update). It stops once train.nonfinite is set, so it stays at the last applied step.
  std::int64_t step = 0;

  // The current step, written by the step's gather (StepStart) from `step` and the epoch's table.
  // Adam's constants are folded as torch.optim.Adam (and the CPU reference) fold them, in double:
  //   p = keep·p - step_size·m / (sqrt(v)·inverse_sqrt_correction2 + ε), t = step + 1.
  float learning_rate = 0.0f;
  float adam_step_size = 0.0f;                 // lr / (1 - β1^t)
  float adam_inverse_sqrt_correction2 = 1.0f;  // 1 / sqrt(1 - β2^t)
  float decoupled_keep = 1.0f;                 // adamw: 1 - lr·wd; else 1
  std::int64_t batch_first_row = 0;            // position in the epoch permutation of this batch's first row
  double gradient_squares = 0.0;               // Σ g² over every gradient of the step, where clip_norm > 0

  // The epoch's training metrics (reset by the host each epoch, read back once at its end).
  // train.nonfinite is the divergence flag: the update kernel (and with it the step's end) skips once it is set.
  MetricSums train;
};

}  // namespace mlptune::cuda
