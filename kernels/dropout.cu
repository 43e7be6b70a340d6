// Dropout kernels: one thread per element decides keep-or-drop from the counter RNG, with the rate,
// seed and step read from the trial's device record (so a captured graph replays new masks).
#include "common/counter_rng.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/launch_config.hpp"
#include "dropout.cuh"

namespace mlptune::kernels {
namespace {

// Forward and backward are one map: in · 1/(1 - rate) where kept, else 0.
static __global__ void dropout_mask_kernel(const cuda::DeviceTrial* __restrict__ trial, int layer, const float* in,
                                           float* out, std::size_t count) {
  const float rate = trial->dropout;
  const float scale = 1.0f / (1.0f - rate);
  const std::uint64_t seed = trial->seed;
  const std::int64_t steps_taken = trial->step;
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < count;
       e += std::size_t(gridDim.x) * blockDim.x)
    out[e] = rng::dropout_keeps(seed, steps_taken, layer, e, rate) ? in[e] * scale : 0.0f;
}

void launch_dropout_mask(const cuda::DeviceTrial* trial, int layer, const float* in, float* out, std::size_t count,
                         cudaStream_t stream) {
  if (count == 0) return;
  dropout_mask_kernel<<<cuda::grid_stride_blocks(count), cuda::kBlockSize, 0, stream>>>(trial, layer, in, out, count);
  MLPTUNE_CUDA_CHECK_LAUNCH(dropout_mask_kernel);
}

}  // namespace

void dropout_forward(const cuda::DeviceTrial* trial, int layer, const float* x, float* out, std::size_t count,
                     cudaStream_t stream) {
  launch_dropout_mask(trial, layer, x, out, count, stream);
}

void dropout_backward(const cuda::DeviceTrial* trial, int layer, const float* grad_out, float* grad_x,
                      std::size_t count, cudaStream_t stream) {
  launch_dropout_mask(trial, layer, grad_out, grad_x, count, stream);
}

}  // namespace mlptune::kernels
