// Column sums of a row-major (B, N) matrix: the bias gradient, in a fixed summation order.
#include "bias_gradient.cuh"
#include "cuda/cuda_check.hpp"
#include "cuda/launch_config.hpp"

namespace mlptune::kernels {
namespace {

constexpr int kColumnsPerBlock = 32;  // one warp's worth of adjacent columns: coalesced row reads
constexpr int kRowLanes = 8;          // threads that split the rows of each column

// Block (32, 8): thread (x, y) sums rows y, y+8, ... of column blockIdx.x·32 + x, then the 8
// partial sums of a column are added in order y = 0..7.
static __global__ void bias_gradient_kernel(const float* __restrict__ grad, float* __restrict__ bias_grad, int batch,
                                            int width) {
  __shared__ float partial[kRowLanes][kColumnsPerBlock];
  const int column = blockIdx.x * kColumnsPerBlock + threadIdx.x;
  float sum = 0.0f;
  if (column < width) {
    for (int row = threadIdx.y; row < batch; row += kRowLanes) sum += grad[std::size_t(row) * width + column];
  }
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && column < width) {
    float total = 0.0f;
    for (int lane = 0; lane < kRowLanes; ++lane) total += partial[lane][threadIdx.x];
    bias_grad[column] = total;
  }
}

}  // namespace

void bias_gradient(const float* grad, float* bias_grad, int batch, int width, cudaStream_t stream) {
  if (width <= 0) return;
  const dim3 block(kColumnsPerBlock, kRowLanes);
  bias_gradient_kernel<<<cuda::exact_blocks(std::size_t(width), kColumnsPerBlock), block, 0, stream>>>(grad, bias_grad,
                                                                                                       batch, width);
  MLPTUNE_CUDA_CHECK_LAUNCH(bias_gradient_kernel);
}

}  // namespace mlptune::kernels
