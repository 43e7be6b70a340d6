// Launchers of the metric kernels: argmax correctness and the per-batch sum into device metrics.
// Each has its CPU twin of the same name in src/cpu/reference.hpp (ref::count_correct, ...).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "nn/metric_sums.hpp"

namespace mlptune::kernels {

// correct (B) = 1 where the first index of the row maximum of scores (B, C) equals labels (B), else 0.
void count_correct(const float* scores, const std::int32_t* labels, std::int32_t* correct, int batch, int classes,
                   cudaStream_t stream);

// metrics += (Σ sample_loss (B), Σ correct (B) when correct is not null, B samples), summed in double
// in a fixed order (one block). When a loss is NaN or ±Inf and metrics->nonfinite is still 0, sets it
// and records first_nonfinite_step = *step_counter + 1 (when step_counter is not null).
void accumulate_metrics(const float* sample_loss, const std::int32_t* correct, int batch, MetricSums* metrics,
                        const std::int64_t* step_counter, cudaStream_t stream);

// When any of values (n) is NaN or ±Inf and metrics->nonfinite is still 0, sets it and records
// first_nonfinite_step = *step_counter: the update that made parameters non-finite (its loss was
// finite, so accumulate_metrics did not see it). Both backends check parameters so at an epoch's end.
void flag_nonfinite_values(const float* values, std::size_t count, MetricSums* metrics,
                           const std::int64_t* step_counter, cudaStream_t stream);

}  // namespace mlptune::kernels
