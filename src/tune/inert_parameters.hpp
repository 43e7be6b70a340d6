// Searched parameters that no trial can use: momentum while every trial trains with adam.
#pragma once

#include <string>
#include <vector>

#include "mlptune/trial.hpp"
#include "mlptune/tune/search_space.hpp"

namespace mlptune::tune {

// One message per parameter of `space` that acts only under values of another setting (the
// `active_when` of its entry in nn/settings.cpp) which no trial takes: neither the values the space
// draws for that setting nor, when the space does not search it, `base`'s value. Each names the
// parameter, its line, the setting that makes it inert and the fix.
std::vector<std::string> inert_parameter_warnings(const SearchSpace& space, const TrialSpec& base);

}  // namespace mlptune::tune
