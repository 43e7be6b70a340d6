// Fused bias + activation forward and the activation derivative, one template per activation.
#include "activation.cuh"
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

// pre (B, N) += bias (N); out (B, N) = f(pre) unless out is null. Grid-stride over B·N elements.
template <Activation A>
static __global__ void bias_activation_forward_kernel(float* __restrict__ pre, const float* __restrict__ bias,
                                                      float* __restrict__ out, std::size_t count, int width) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < count;
       i += std::size_t(gridDim.x) * blockDim.x) {
    const float z = pre[i] + bias[i % std::size_t(width)];
    pre[i] = z;
    if (out != nullptr) out[i] = activate<A>(z);
  }
}

// grad (n) *= f'(pre). Grid-stride.
template <Activation A>
static __global__ void activation_backward_kernel(const float* __restrict__ pre, float* __restrict__ grad,
                                                  std::size_t count) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < count;
       i += std::size_t(gridDim.x) * blockDim.x) {
    grad[i] *= activate_derivative<A>(pre[i]);
  }
}

template <Activation A>
void launch_forward(float* pre, const float* bias, float* out, std::size_t count, int width, cudaStream_t stream) {
  bias_activation_forward_kernel<A>
      <<<cuda::grid_stride_blocks(count), cuda::kBlockSize, 0, stream>>>(pre, bias, out, count, width);
  MLPTUNE_CUDA_CHECK_LAUNCH(bias_activation_forward_kernel);
}

template <Activation A>
void launch_backward(const float* pre, float* grad, std::size_t count, cudaStream_t stream) {
  activation_backward_kernel<A><<<cuda::grid_stride_blocks(count), cuda::kBlockSize, 0, stream>>>(pre, grad, count);
  MLPTUNE_CUDA_CHECK_LAUNCH(activation_backward_kernel);
}

}  // namespace

void bias_activation_forward(Activation activation, float* pre, const float* bias, float* out, int batch, int width,
                             cudaStream_t stream) {
  const std::size_t count = std::size_t(batch) * std::size_t(width);
  if (count == 0) return;
  switch (activation) {
    case Activation::relu:
      return launch_forward<Activation::relu>(pre, bias, out, count, width, stream);
    case Activation::tanh:
      return launch_forward<Activation::tanh>(pre, bias, out, count, width, stream);
    case Activation::sigmoid:
      return launch_forward<Activation::sigmoid>(pre, bias, out, count, width, stream);
    case Activation::gelu:
      return launch_forward<Activation::gelu>(pre, bias, out, count, width, stream);
    case Activation::identity:
      return launch_forward<Activation::identity>(pre, bias, out, count, width, stream);
  }
  throw ConfigError("bias_activation_forward: unknown activation");
}

void activation_backward(Activation activation, const float* pre, float* grad, std::size_t count, cudaStream_t stream) {
  if (count == 0) return;
  switch (activation) {
    case Activation::relu:
      return launch_backward<Activation::relu>(pre, grad, count, stream);
    case Activation::tanh:
      return launch_backward<Activation::tanh>(pre, grad, count, stream);
    case Activation::sigmoid:
      return launch_backward<Activation::sigmoid>(pre, grad, count, stream);
    case Activation::gelu:
      return launch_backward<Activation::gelu>(pre, grad, count, stream);
    case Activation::identity:
      return launch_backward<Activation::identity>(pre, grad, count, stream);
  }
  throw ConfigError("activation_backward: unknown activation");
}

}  // namespace mlptune::kernels
