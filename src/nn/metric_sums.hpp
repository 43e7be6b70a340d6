// Sums of per-sample losses and correct predictions over a pass, as the backends accumulate them
// (the CUDA backend in device memory, so the layout is fixed: plain fields, no constructors).
#pragma once

#include <cstdint>

namespace mlptune {

struct MetricSums {
  double loss_sum = 0.0;       // Σ per-sample loss
  std::int64_t correct = 0;    // classification: samples whose argmax equals the label
  std::int64_t samples = 0;    // samples summed
  std::int32_t nonfinite = 0;  // 1 once a per-sample loss (or a checked value) was NaN or ±Inf
  std::int32_t padding = 0;
  std::int64_t first_nonfinite_step = 0;  // training: the 1-based global step that set `nonfinite`
};

}  // namespace mlptune
