// The Sampler interface and the samplers a study method names (grid, random, bayes = TPE, sobol).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "mlptune/tune/frozen_trial.hpp"
#include "mlptune/tune/search_space.hpp"

namespace mlptune::tune {

enum class Method { grid, random, bayes, sobol };  // bayes = TPE
std::string_view to_string(Method);

// A sampler only samples. `trials` holds every trial of the study so far, running ones
// included (TPE treats those as bad: the constant liar). Same seed and same history: same result.
class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual Params sample(const SearchSpace& space, std::span<const FrozenTrial> trials, Goal goal, int number) = 0;
  // Grid: the number of points (0 for samplers without an end).
  virtual std::int64_t size(const SearchSpace&) const { return 0; }
};

struct SamplerOptions {
  std::uint64_t seed = 0;
  int n_startup_trials = 10;  // TPE
  int n_ei_candidates = 24;   // TPE
  bool constant_liar = true;  // TPE
};
std::unique_ptr<Sampler> make_sampler(Method method, const SamplerOptions& options);

}  // namespace mlptune::tune
