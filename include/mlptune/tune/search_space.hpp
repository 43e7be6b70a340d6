// Search spaces as a W&B Sweeps YAML file describes them: parameter values, the distributions they
// are drawn from, and the named parameters of a study.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mlptune::tune {

// A hyperparameter value: integers, reals, or names (categorical choices such as "relu", and
// lists such as hidden "256,128" kept as their text).
using ParamValue = std::variant<std::int64_t, double, std::string>;
using Params = std::map<std::string, ParamValue>;
std::string to_string(const ParamValue& value);

// The W&B Sweeps distributions (REFERENCE.md), plus constant and categorical.
enum class DistributionKind {
  constant,            // value
  categorical,         // values (+ probabilities)
  int_uniform,         // min/max integers
  uniform,             // min/max reals
  q_uniform,           // round(uniform / q) * q
  log_uniform,         // min/max are natural-log exponents: exp(uniform(min, max))
  log_uniform_values,  // min/max are values > 0
  q_log_uniform,
  q_log_uniform_values,
  inv_log_uniform,         // 1 / exp(uniform(min, max))
  inv_log_uniform_values,  // 1 / log_uniform_values(1/max, 1/min)
  normal,                  // mu, sigma
  q_normal,
  log_normal,  // exp(normal(mu, sigma))
  q_log_normal,
  beta,  // a, b
  q_beta,
};
std::string_view to_string(DistributionKind);

struct Distribution {
  DistributionKind kind = DistributionKind::constant;
  double min = 0.0;
  double max = 0.0;
  double q = 1.0;
  double mu = 0.0;
  double sigma = 1.0;
  double a = 1.0;
  double b = 1.0;
  bool integer = false;               // values are integers (int_uniform; q_* with integer q and bounds)
  std::vector<ParamValue> values;     // constant (one), categorical (choices)
  std::vector<double> probabilities;  // categorical, optional; sums to 1
};

struct ParameterSpec {
  std::string name;
  Distribution distribution;
  int line = 0;  // line in the YAML file, for messages
};

struct SearchSpace {
  std::vector<ParameterSpec> parameters;  // in file order
  const ParameterSpec* find(std::string_view name) const;
};

}  // namespace mlptune::tune
