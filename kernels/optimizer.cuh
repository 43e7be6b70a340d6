// Launchers of the optimizer step: begin (this step's constants), the update, end (step += 1).
// Every constant comes from the trial's record in device memory, so a captured graph replays
// with a changing learning rate and step.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/device_trial.hpp"

namespace mlptune::kernels {

// One thread: from trial->step (steps taken, s) and the epoch's learning-rate table
// (epoch_steps entries, entry i for global step epoch_first_step + i) sets learning_rate, Adam's
// folded constants for t = s + 1, and batch_first_row = (s - epoch_first_step) · batch_size.
void begin_step(cuda::DeviceTrial* trial, const double* epoch_learning_rates, int epoch_steps, cudaStream_t stream);

// parameters, gradients, first, second (n): one update by the rule trial->optimizer (as
// documented on mlptune::Optimizer) with the record's constants. first/second may be null where
// the optimizer keeps no such slot. Does nothing once trial->train.nonfinite is set.
void optimizer_update(const cuda::DeviceTrial* trial, float* parameters, const float* gradients, float* first,
                      float* second, std::size_t count, cudaStream_t stream);

// One thread: trial->step += 1 unless trial->train.nonfinite is set.
void end_step(cuda::DeviceTrial* trial, cudaStream_t stream);

}  // namespace mlptune::kernels
