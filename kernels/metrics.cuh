// Launcher of the parameters' divergence check (its CPU twin: ref::flag_nonfinite_values). The
// batch's metrics are summed by the loss kernel (LossOutputs in loss.cuh).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "nn/metric_sums.hpp"

namespace mlptune::kernels {

// When any of values (n) is NaN or ±Inf and metrics->nonfinite is still 0, sets it and records
// first_nonfinite_step = *step_counter: the update that made parameters non-finite (its loss was
// finite, so the loss kernel did not flag it). Both backends check parameters so at an epoch's end.
void flag_nonfinite_values(const float* values, std::size_t count, MetricSums* metrics,
                           const std::int64_t* step_counter, cudaStream_t stream);

}  // namespace mlptune::kernels
