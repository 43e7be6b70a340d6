// Parsing one entry of a sweep's `parameters` section into a ParameterSpec.
#pragma once

#include <yaml-cpp/yaml.h>

#include "mlptune/tune/search_space.hpp"
#include "tune/study_config_yaml.hpp"

namespace mlptune::tune::config_yaml {

// `name_node` is the key (its line locates messages), `spec` its mapping. The name is checked
// against the hyperparameters of `mlptune train`; aliases become their canonical name (learning_rate -> lr).
ParameterSpec parse_parameter(const Reader& reader, const YAML::Node& name_node, const YAML::Node& spec);

// The largest model the space's depth and width give (the default hidden layer's where only one is
// searched) must fit the parameter limit on the smallest data, one feature and one output; computed
// without building it. Fails at the largest depth's (else width's) key otherwise.
void check_largest_model(const Reader& reader, const YAML::Node& parameters, const SearchSpace& space);

}  // namespace mlptune::tune::config_yaml
