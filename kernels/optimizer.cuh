// Launcher of the optimizer update, which also ends the step (step += 1). Every constant comes from
// the trial's record in device memory (the step's gather writes this step's: StepStart in
// gather.cuh), so a captured graph replays with a changing learning rate and step.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/device_trial.hpp"

namespace mlptune::kernels {

// parameters, gradients, first, second (n): one update by the rule trial->optimizer (as
// documented on mlptune::Optimizer) with the record's constants. first/second may be null where
// the optimizer keeps no such slot. One thread then ends the step: trial->step += 1 (no thread of
// the update reads step). Does nothing, step included, once trial->train.nonfinite is set.
void optimizer_update(cuda::DeviceTrial* trial, float* parameters, const float* gradients, float* first, float* second,
                      std::size_t count, cudaStream_t stream);

}  // namespace mlptune::kernels
