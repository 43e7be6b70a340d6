// Gradient clipping: a fixed-order two-pass sum of squares (block partials, then one sum that every
// scaling block repeats), and a grid-stride scale by torch's clip coefficient.
#include "cuda/cuda_check.hpp"
#include "cuda/launch_config.hpp"
#include "gradient_clip.cuh"

namespace mlptune::kernels {
namespace {

constexpr int kThreads = 256;  // a power of two for the trees below

// Sums `value` over the block in a fixed tree order; the total is in shared[0] afterwards.
__device__ double block_sum(double* shared, double value) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  return shared[0];
}

// Block b sums the squares of elements b·256 + t, then every kGradientNormBlocks·256-th one.
static __global__ void partial_squares_kernel(const cuda::DeviceTrial* __restrict__ trial,
                                              const float* __restrict__ gradients, std::size_t count,
                                              double* __restrict__ partials) {
  __shared__ double shared[kThreads];
  if (trial->clip_norm <= 0.0) return;
  double squares = 0.0;
  const std::size_t stride = std::size_t(kGradientNormBlocks) * kThreads;
  for (std::size_t i = blockIdx.x * std::size_t(kThreads) + threadIdx.x; i < count; i += stride)
    squares += double(gradients[i]) * double(gradients[i]);
  const double total = block_sum(shared, squares);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// Every block adds the partials in the same order (so all see the same norm), then scales its
// elements; block 0 records the sum of squares.
static __global__ void scale_kernel(cuda::DeviceTrial* __restrict__ trial, float* __restrict__ gradients,
                                    std::size_t count, const double* __restrict__ partials) {
  __shared__ double shared[kThreads];
  const double max_norm = trial->clip_norm;
  if (max_norm <= 0.0) return;
  double partial = 0.0;
  for (int b = threadIdx.x; b < kGradientNormBlocks; b += kThreads) partial += partials[b];
  const double squares = block_sum(shared, partial);
  if (blockIdx.x == 0 && threadIdx.x == 0) trial->gradient_squares = squares;
  const double factor = max_norm / (sqrt(squares) + 1e-6);  // torch's clip_coef
  if (!(factor < 1.0)) return;
  for (std::size_t i = blockIdx.x * std::size_t(kThreads) + threadIdx.x; i < count;
       i += std::size_t(gridDim.x) * kThreads)
    gradients[i] = float(double(gradients[i]) * factor);
}

}  // namespace

void clip_gradient_norm(cuda::DeviceTrial* trial, float* gradients, std::size_t count, double* partials,
                        cudaStream_t stream) {
  if (count == 0) return;
  partial_squares_kernel<<<kGradientNormBlocks, kThreads, 0, stream>>>(trial, gradients, count, partials);
  MLPTUNE_CUDA_CHECK_LAUNCH(partial_squares_kernel);
  scale_kernel<<<cuda::grid_stride_blocks(count, kThreads), kThreads, 0, stream>>>(trial, gradients, count, partials);
  MLPTUNE_CUDA_CHECK_LAUNCH(scale_kernel);
}

}  // namespace mlptune::kernels
