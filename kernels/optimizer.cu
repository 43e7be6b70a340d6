// Optimizer kernels: SGD, momentum, Nesterov, Adam and AdamW with weight decay, reading their
// constants (learning rate, betas, ε, weight decay, step) from the trial's device record.
#include "cuda/cuda_check.hpp"
#include "cuda/launch_config.hpp"
#include "optimizer.cuh"

namespace mlptune::kernels {
namespace {

using cuda::DeviceOptimizer;
using cuda::DeviceTrial;

static __global__ void begin_step_kernel(DeviceTrial* __restrict__ trial,
                                         const double* __restrict__ epoch_learning_rates, int epoch_steps) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  const long long taken = trial->step;
  long long index = taken - trial->epoch_first_step;
  // After a divergence the step stops advancing; later replays of the epoch reuse its entry.
  index = index < 0 ? 0 : (index >= epoch_steps ? epoch_steps - 1 : index);
  const double t = double(taken + 1);
  const double learning_rate = epoch_learning_rates[index];
  const bool decoupled = trial->optimizer == static_cast<std::int32_t>(DeviceOptimizer::adamw);
  trial->learning_rate = float(learning_rate);
  trial->adam_step_size = float(learning_rate / (1.0 - pow(trial->beta1, t)));
  trial->adam_inverse_sqrt_correction2 = float(1.0 / sqrt(1.0 - pow(trial->beta2, t)));
  trial->decoupled_keep = float(decoupled ? 1.0 - learning_rate * trial->weight_decay : 1.0);
  trial->batch_first_row = index * trial->batch_size;
}

// Grid-stride over the n parameters; the optimizer is a uniform branch per launch.
static __global__ void optimizer_update_kernel(const DeviceTrial* __restrict__ trial, float* __restrict__ parameters,
                                               const float* __restrict__ gradients, float* __restrict__ first,
                                               float* __restrict__ second, std::size_t count) {
  if (trial->train.nonfinite != 0) return;
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

static __global__ void end_step_kernel(DeviceTrial* __restrict__ trial) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  if (trial->train.nonfinite == 0) trial->step += 1;
}

}  // namespace

void begin_step(DeviceTrial* trial, const double* epoch_learning_rates, int epoch_steps, cudaStream_t stream) {
  begin_step_kernel<<<1, 1, 0, stream>>>(trial, epoch_learning_rates, epoch_steps);
  MLPTUNE_CUDA_CHECK_LAUNCH(begin_step_kernel);
}

void optimizer_update(const DeviceTrial* trial, float* parameters, const float* gradients, float* first, float* second,
                      std::size_t count, cudaStream_t stream) {
  if (count == 0) return;
  optimizer_update_kernel<<<cuda::grid_stride_blocks(count), cuda::kBlockSize, 0, stream>>>(
      trial, parameters, gradients, first, second, count);
  MLPTUNE_CUDA_CHECK_LAUNCH(optimizer_update_kernel);
}

void end_step(DeviceTrial* trial, cudaStream_t stream) {
  end_step_kernel<<<1, 1, 0, stream>>>(trial);
  MLPTUNE_CUDA_CHECK_LAUNCH(end_step_kernel);
}

}  // namespace mlptune::kernels
