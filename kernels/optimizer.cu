// Optimizer kernels: SGD, momentum, Nesterov, Adam and AdamW with weight decay, reading their
// constants (learning rate, betas, ε, weight decay, step) from the trial's device record.
#include "cuda/cuda_check.hpp"
#include "cuda/launch_config.hpp"
#include "optimizer.cuh"

namespace mlptune::kernels {
namespace {

using cuda::DeviceOptimizer;
using cuda::DeviceTrial;

// Grid-stride over the n parameters; the optimizer is a uniform branch per launch. The step ends
// here: its counter is read by no thread of this kernel, only by the next step's kernels.
static __global__ void optimizer_update_kernel(DeviceTrial* __restrict__ trial, float* __restrict__ parameters,
                                               const float* __restrict__ gradients, float* __restrict__ first,
                                               float* __restrict__ second, std::size_t count) {
  if (trial->train.nonfinite != 0) return;
  if (blockIdx.x == 0 && threadIdx.x == 0) trial->step += 1;
  const auto optimizer = static_cast<DeviceOptimizer>(trial->optimizer);
  const float lr = trial->learning_rate;
  const float weight_decay = float(trial->weight_decay);
  const float momentum = float(trial->momentum);
  const float beta1 = float(trial->beta1);
  const float beta2 = float(trial->beta2);
  const float one_minus_beta1 = float(1.0 - trial->beta1);
  const float one_minus_beta2 = float(1.0 - trial->beta2);
  const float epsilon = float(trial->epsilon);
  const float step_size = trial->adam_step_size;
  const float inverse_sqrt_correction2 = trial->adam_inverse_sqrt_correction2;
  // adam couples the decay into the gradient; adamw shrinks the parameter (keep = 1 - lr·wd).
  const float coupled_decay = optimizer == DeviceOptimizer::adamw ? 0.0f : weight_decay;
  const float keep = trial->decoupled_keep;
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < count;
       i += std::size_t(gridDim.x) * blockDim.x) {
    float p = parameters[i];
    float g = gradients[i];
    switch (optimizer) {
      case DeviceOptimizer::sgd:
        p -= lr * (g + weight_decay * p);
        break;
      case DeviceOptimizer::momentum:
      case DeviceOptimizer::nesterov: {
        g += weight_decay * p;
        const float velocity = momentum * first[i] + g;
        first[i] = velocity;
        p -= optimizer == DeviceOptimizer::momentum ? lr * velocity : lr * (g + momentum * velocity);
        break;
      }
      case DeviceOptimizer::adam:
      case DeviceOptimizer::adamw: {
        g += coupled_decay * p;
        const float m = beta1 * first[i] + one_minus_beta1 * g;
        const float v = beta2 * second[i] + one_minus_beta2 * g * g;
        first[i] = m;
        second[i] = v;
        p = keep * p - step_size * m / (sqrtf(v) * inverse_sqrt_correction2 + epsilon);
        break;
      }
    }
    parameters[i] = p;
  }
}

}  // namespace

// Launched even for no parameters: it ends the step.
void optimizer_update(DeviceTrial* trial, float* parameters, const float* gradients, float* first, float* second,
                      std::size_t count, cudaStream_t stream) {
  optimizer_update_kernel<<<cuda::grid_stride_blocks(count), cuda::kBlockSize, 0, stream>>>(
      trial, parameters, gradients, first, second, count);
  MLPTUNE_CUDA_CHECK_LAUNCH(optimizer_update_kernel);
}

}  // namespace mlptune::kernels
