// Grid search: the cartesian product of every parameter's points; trial n gets point n.
#include <string>

#include "mlptune/error.hpp"
#include "tune/sampler_internal.hpp"
#include "tune/search_space_math.hpp"

namespace mlptune::tune::sampling {
namespace {

class GridSampler final : public Sampler {
 public:
  // Odometer order: the last parameter in the file changes fastest (as itertools.product).
  Params sample(const SearchSpace& space, std::span<const FrozenTrial>, Goal, int number) override {
    const std::int64_t points = size(space);
    if (number < 0 || number >= points)
      throw Error("grid search has " + std::to_string(points) + " points; trial " + std::to_string(number) +
                  " is past the end (stop the study at size())");
    Params params;
    std::int64_t rest = number;
    for (auto parameter = space.parameters.rbegin(); parameter != space.parameters.rend(); ++parameter) {
      const std::int64_t count = space::grid_count(parameter->distribution);
      params[parameter->name] = space::grid_value(parameter->distribution, rest % count);
      rest /= count;
    }
    return params;
  }

  std::int64_t size(const SearchSpace& space) const override {
    std::int64_t points = 1;
    for (const auto& parameter : space.parameters) {
      if (!space::grid_allowed(parameter.distribution.kind))
        throw ConfigError("parameters." + parameter.name + ": grid search cannot enumerate distribution " +
                          std::string(to_string(parameter.distribution.kind)));
      if (__builtin_mul_overflow(points, space::grid_count(parameter.distribution), &points))
        throw ConfigError("the grid has more than 2^63 points; use fewer values, or method random, bayes or sobol");
    }
    return points;
  }
};

}  // namespace

std::unique_ptr<Sampler> make_grid_sampler() {
  return std::make_unique<GridSampler>();
}

}  // namespace mlptune::tune::sampling
