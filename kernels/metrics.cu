// The divergence check of the parameters: any NaN or ±Inf flags the trial's metrics once.
#include "cuda/cuda_check.hpp"
#include "cuda/launch_config.hpp"
#include "metrics.cuh"

namespace mlptune::kernels {
namespace {

// Grid-stride over the values; the first thread to find a bad one claims the flag.
static __global__ void flag_nonfinite_values_kernel(const float* __restrict__ values, std::size_t count,
                                                    MetricSums* __restrict__ metrics,
                                                    const std::int64_t* __restrict__ step_counter) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < count;
       i += std::size_t(gridDim.x) * blockDim.x) {
    if (isfinite(values[i])) continue;
    if (atomicCAS(&metrics->nonfinite, 0, 1) == 0) metrics->first_nonfinite_step = *step_counter;
    return;
  }
}

}  // namespace

void flag_nonfinite_values(const float* values, std::size_t count, MetricSums* metrics,
                           const std::int64_t* step_counter, cudaStream_t stream) {
  if (count == 0) return;
  flag_nonfinite_values_kernel<<<cuda::grid_stride_blocks(count), cuda::kBlockSize, 0, stream>>>(values, count, metrics,
                                                                                                 step_counter);
  MLPTUNE_CUDA_CHECK_LAUNCH(flag_nonfinite_values_kernel);
}

}  // namespace mlptune::kernels
