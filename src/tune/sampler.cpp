// Choosing a sampler by method, and the names of trial states.
#include "mlptune/tune/sampler.hpp"

#include "tune/enum_names.hpp"
#include "tune/sampler_internal.hpp"

namespace mlptune::tune {

std::string_view to_string(RunState state) {
  return kRunStateNames.name_of(state);
}

std::unique_ptr<Sampler> make_sampler(Method method, const SamplerOptions& options) {
  switch (method) {
    case Method::grid:
      return sampling::make_grid_sampler();
    case Method::random:
      return sampling::make_random_sampler(options.seed);
    case Method::sobol:
      return sampling::make_sobol_sampler(options.seed);
    case Method::bayes:
      return sampling::make_tpe_sampler(options);
  }
  return nullptr;
}

}  // namespace mlptune::tune
