// A trial: what to train (TrialSpec), where it stands (TrialState), what it reported (EpochReport).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "mlptune/model.hpp"
#include "mlptune/train_config.hpp"

namespace mlptune {

struct TrialSpec {
  ModelSpec model;
  TrainConfig train;
  int trial_number = 0;  // for reports and NVTX names
};

// A named float32 tensor, row-major. Parameters are named as torch.nn.Linear layers in a
// ModuleList called "layers": layers.{i}.weight (out, in) and layers.{i}.bias (out).
struct Tensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> data;
};

// Everything needed to continue a trial exactly where it stopped. Backend-independent: a state
// taken on one backend loads on another.
struct TrialState {
  ModelSpec model;
  std::vector<Tensor> parameters;  // layers.0.weight, layers.0.bias, layers.1.weight, ...
  // Optimizer slots, parallel to `parameters` (empty where the optimizer has none):
  // momentum/nesterov: first = velocity; adam/adamw: first = m, second = v.
  std::vector<Tensor> first_moment;
  std::vector<Tensor> second_moment;
  std::int64_t step = 0;  // optimizer steps taken (Adam's t)
  int epoch = 0;          // epochs completed; the shuffle of epoch e derives from (seed, e)
  double best_validation_loss = std::numeric_limits<double>::infinity();
  int epochs_since_best = 0;  // early stopping
};

enum class TrialStatus {
  running,        // more epochs to go
  completed,      // reached its epochs
  stopped_early,  // early stopping on validation loss
  diverged,       // NaN or Inf loss
  failed,         // an error (e.g. out of device memory); message says which
};

std::string to_string(TrialStatus);

struct Metrics {
  double loss = std::numeric_limits<double>::quiet_NaN();
  double accuracy = std::numeric_limits<double>::quiet_NaN();  // classification
  double rmse = std::numeric_limits<double>::quiet_NaN();      // regression, in the file's units
  std::int64_t samples = 0;
};

struct EpochReport {
  int epoch = 0;                                                 // 1-based: the epoch just finished
  std::int64_t step = 0;                                         // global steps after it
  double train_loss = std::numeric_limits<double>::quiet_NaN();  // mean over the epoch's samples
  Metrics validation;
  double learning_rate = 0.0;  // at the epoch's last step
  double samples_per_second = 0.0;
  double seconds = 0.0;
  TrialStatus status = TrialStatus::running;
  std::string message;  // e.g. "diverged at epoch 3, step 1207"
};

}  // namespace mlptune
