// Launchers of the batch gather: rows picked through a permutation, bytes scaled to floats, the
// batch's labels or targets beside its features, and the training step's start, in one kernel.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cuda/device_trial.hpp"

namespace mlptune::kernels {

// The start of a training step, done by its gather (the step's first kernel), so no launch of its
// own: with s = trial->step (steps taken) and i = s - epoch_first_step clamped to the epoch's table
// (after a divergence the step stops advancing and later replays reuse the last entry), the batch
// starts at position i · batch_size of the permutation, and one thread writes the step's
// learning_rate (epoch_learning_rates[i]), Adam's folded constants for t = s + 1, decoupled_keep
// and batch_first_row into the record for the kernels after it.
struct StepStart {
  cuda::DeviceTrial* trial = nullptr;  // null: no step starts (evaluation, prediction)
  const double* epoch_learning_rates = nullptr;
  int epoch_steps = 0;
};

// Which rows a batch holds: batch row r is source row order[first + r], or first + r when order is
// null; first = host_first, plus the step's batch position when step.trial is set.
struct RowSelection {
  const std::uint32_t* order = nullptr;  // permutation of the source rows, or null (identity)
  std::int64_t host_first = 0;
  StepStart step;
};

// What the batch needs beside its features: the selected rows' labels (B), or their target rows
// (B, target_width), or nothing (both null, as in prediction).
struct BatchTargets {
  const std::int32_t* labels = nullptr;  // source labels (rows)
  std::int32_t* batch_labels = nullptr;  // (B)
  const float* targets = nullptr;        // source targets (rows, target_width)
  float* batch_targets = nullptr;        // (B, target_width)
  int target_width = 0;
};

// dst (B, cols) = float rows of src (rows, cols); targets as BatchTargets says.
void gather_rows(const float* src, std::size_t cols, RowSelection rows, int batch, float* dst, BatchTargets targets,
                 cudaStream_t stream);

// dst (B, cols) = fmaf(float(raw), column_scale[c], column_offset[c]) for raw bytes (rows, cols):
// exactly Dataset::features, which the host computes with the same fused expression; targets as
// BatchTargets says.
void gather_scaled_bytes(const std::uint8_t* raw, const float* column_scale, const float* column_offset,
                         std::size_t cols, RowSelection rows, int batch, float* dst, BatchTargets targets,
                         cudaStream_t stream);

}  // namespace mlptune::kernels
