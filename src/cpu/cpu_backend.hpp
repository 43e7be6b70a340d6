// The CPU reference backend: exact fp32 math, BLAS for the matrix products, one trial per thread.
#pragma once

#include <memory>

#include "mlptune/backend.hpp"

namespace mlptune {

// threads_per_trial: BLAS threads each trainer uses (0: one trial at a time, its threads chosen
// from its batch size by cpu::lone_trial_threads).
std::unique_ptr<Backend> make_cpu_backend(int threads_per_trial);

}  // namespace mlptune
