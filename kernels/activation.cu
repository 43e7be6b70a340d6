// Fused bias + activation (+ dropout) forward, and the fused (dropout +) activation derivative +
// bias gradient, one template per activation.
#include <algorithm>

#include "activation.cuh"
#include "common/counter_rng.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/launch_config.hpp"
#include "mlptune/error.hpp"

namespace mlptune::kernels {
namespace {

// √(2/π) and the cubic coefficient of the tanh approximation of GELU (see Activation).
constexpr float kGeluScale = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;

template <Activation A>
__device__ __forceinline__ float activate(float z) {
  if constexpr (A == Activation::relu) {
    return z > 0.0f ? z : 0.0f;
  } else if constexpr (A == Activation::tanh) {
    return tanhf(z);
  } else if constexpr (A == Activation::sigmoid) {
    return 1.0f / (1.0f + expf(-z));
  } else if constexpr (A == Activation::gelu) {
    return 0.5f * z * (1.0f + tanhf(kGeluScale * (z + kGeluCubic * z * z * z)));
  } else {
    return z;
  }
}

template <Activation A>
__device__ __forceinline__ float activate_derivative(float z) {
  if constexpr (A == Activation::relu) {
    return z > 0.0f ? 1.0f : 0.0f;
  } else if constexpr (A == Activation::tanh) {
    const float t = tanhf(z);
    return 1.0f - t * t;
  } else if constexpr (A == Activation::sigmoid) {
    const float s = 1.0f / (1.0f + expf(-z));
    return s * (1.0f - s);
  } else if constexpr (A == Activation::gelu) {
    // d/dz 0.5·z·(1 + tanh u), u = k·(z + c·z³): 0.5·(1 + t) + 0.5·z·(1 - t²)·k·(1 + 3c·z²).
    const float t = tanhf(kGeluScale * (z + kGeluCubic * z * z * z));
    return 0.5f * (1.0f + t) + 0.5f * z * (1.0f - t * t) * kGeluScale * (1.0f + 3.0f * kGeluCubic * z * z);
  } else {
    return 1.0f;
  }
}

constexpr unsigned int kMaxGridRows = 65535;  // gridDim.y's limit; more rows loop
constexpr int kColumnsPerBlock = 32;          // the backward's block: one warp's worth of adjacent columns
constexpr int kRowLanes = 16;                 // threads that split the rows of each column

// The dropout mask as a kernel applies it: read once per thread from the trial's record.
struct Dropout {
  bool on = false;
  float rate = 0.0f;
  float scale = 1.0f;
  std::uint64_t seed = 0;
  std::int64_t steps_taken = 0;
  int layer = 0;

  __device__ explicit Dropout(const DropoutMask& mask) {
    if (mask.trial == nullptr) return;
    on = true;
    rate = mask.trial->dropout;
    scale = 1.0f / (1.0f - rate);
    seed = mask.trial->seed;
    steps_taken = mask.trial->step;
    layer = mask.layer;
  }
  // value / (1 - rate) where the mask keeps element e, else 0 (as ref::dropout_forward).
  __device__ float operator()(float value, std::size_t element) const {
    if (!on) return value;
    return rng::dropout_keeps(seed, steps_taken, layer, element, rate) ? value * scale : 0.0f;
  }
};

// pre (B, N) += bias (N); out (B, N) = dropout(f(pre)) unless out is null. Grid (column blocks,
// rows): block (x, y) takes columns x·256 + t of rows y, y + gridDim.y, ...
template <Activation A>
static __global__ void bias_activation_forward_kernel(float* __restrict__ pre, const float* __restrict__ bias,
                                                      float* __restrict__ out, int batch, int width, DropoutMask mask) {
  const Dropout dropout(mask);
  for (int row = blockIdx.y; row < batch; row += gridDim.y) {
    const std::size_t base = std::size_t(row) * width;
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < width; c += gridDim.x * blockDim.x) {
      const float z = pre[base + c] + bias[c];
      pre[base + c] = z;
      if (out != nullptr) out[base + c] = dropout(activate<A>(z), base + c);
    }
  }
}

// grad (B, N) = dropout(grad) · f'(pre); bias_grad (N) = Σ_rows grad after. Block (32, 16): thread
// (x, y) takes rows y, y+16, ... of column blockIdx.x·32 + x, then the 16 partial sums of a column
// are added in order y = 0..15 (a fixed order: the same inputs give the same bits).
template <Activation A>
static __global__ void activation_bias_gradient_kernel(const float* __restrict__ pre, float* __restrict__ grad,
                                                       float* __restrict__ bias_grad, int batch, int width,
                                                       DropoutMask mask) {
  __shared__ float partial[kRowLanes][kColumnsPerBlock];
  const Dropout dropout(mask);
  const int column = blockIdx.x * kColumnsPerBlock + threadIdx.x;
  float sum = 0.0f;
  if (column < width) {
    for (int row = threadIdx.y; row < batch; row += kRowLanes) {
      const std::size_t i = std::size_t(row) * width + column;
      const float delta = dropout(grad[i], i) * activate_derivative<A>(pre[i]);
      grad[i] = delta;
      sum += delta;
    }
  }
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && column < width) {
    float total = 0.0f;
    for (int lane = 0; lane < kRowLanes; ++lane) total += partial[lane][threadIdx.x];
    bias_grad[column] = total;
  }
}

template <Activation A>
void launch_forward(float* pre, const float* bias, float* out, int batch, int width, cudaStream_t stream,
                    DropoutMask mask) {
  const dim3 grid(cuda::exact_blocks(std::size_t(width), cuda::kBlockSize), std::min(unsigned(batch), kMaxGridRows));
  bias_activation_forward_kernel<A><<<grid, cuda::kBlockSize, 0, stream>>>(pre, bias, out, batch, width, mask);
  MLPTUNE_CUDA_CHECK_LAUNCH(bias_activation_forward_kernel);
}

template <Activation A>
void launch_backward(const float* pre, float* grad, float* bias_grad, int batch, int width, cudaStream_t stream,
                     DropoutMask mask) {
  const dim3 block(kColumnsPerBlock, kRowLanes);
  activation_bias_gradient_kernel<A><<<cuda::exact_blocks(std::size_t(width), kColumnsPerBlock), block, 0, stream>>>(
      pre, grad, bias_grad, batch, width, mask);
  MLPTUNE_CUDA_CHECK_LAUNCH(activation_bias_gradient_kernel);
}

}  // namespace

void bias_activation_forward(Activation activation, float* pre, const float* bias, float* out, int batch, int width,
                             cudaStream_t stream, DropoutMask dropout) {
  if (batch <= 0 || width <= 0) return;
  switch (activation) {
    case Activation::relu:
      return launch_forward<Activation::relu>(pre, bias, out, batch, width, stream, dropout);
    case Activation::tanh:
      return launch_forward<Activation::tanh>(pre, bias, out, batch, width, stream, dropout);
    case Activation::sigmoid:
      return launch_forward<Activation::sigmoid>(pre, bias, out, batch, width, stream, dropout);
    case Activation::gelu:
      return launch_forward<Activation::gelu>(pre, bias, out, batch, width, stream, dropout);
    case Activation::identity:
      return launch_forward<Activation::identity>(pre, bias, out, batch, width, stream, dropout);
  }
  throw ConfigError("bias_activation_forward: unknown activation");
}

void activation_bias_gradient(Activation activation, const float* pre, float* grad, float* bias_grad, int batch,
                              int width, cudaStream_t stream, DropoutMask dropout) {
  if (width <= 0) return;
  switch (activation) {
    case Activation::relu:
      return launch_backward<Activation::relu>(pre, grad, bias_grad, batch, width, stream, dropout);
    case Activation::tanh:
      return launch_backward<Activation::tanh>(pre, grad, bias_grad, batch, width, stream, dropout);
    case Activation::sigmoid:
      return launch_backward<Activation::sigmoid>(pre, grad, bias_grad, batch, width, stream, dropout);
    case Activation::gelu:
      return launch_backward<Activation::gelu>(pre, grad, bias_grad, batch, width, stream, dropout);
    case Activation::identity:
      return launch_backward<Activation::identity>(pre, grad, bias_grad, batch, width, stream, dropout);
  }
  throw ConfigError("activation_bias_gradient: unknown activation");
}

}  // namespace mlptune::kernels
