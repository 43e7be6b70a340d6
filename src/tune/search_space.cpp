// Distribution kind names, and looking a parameter up in a search space.
#include "mlptune/tune/search_space.hpp"

#include <string_view>

#include "tune/search_space_math.hpp"

namespace mlptune::tune {

std::string_view to_string(DistributionKind kind) {
  return space::info(kind).name;
}

const ParameterSpec* SearchSpace::find(std::string_view name) const {
  for (const auto& parameter : parameters)
    if (parameter.name == name) return &parameter;
  return nullptr;
}

}  // namespace mlptune::tune
