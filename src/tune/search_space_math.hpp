// The internal coordinate of every distribution kind: samplers draw there, values map to and from it.
//
// Each non-constant parameter has a coordinate z in which its prior is uniform on [low, high]:
//   uniform, q_uniform                      z = value
//   int_uniform                             z = value, step 1 (discrete)
//   log_uniform, q_log_uniform              z = ln value in [min, max] (min/max are exponents)
//   log_uniform_values, q_log_uniform_values z = ln value in [ln min, ln max]
//   inv_log_uniform                         z = -ln value in [min, max]
//   inv_log_uniform_values                  z = -ln value in [-ln max, -ln min]
//   normal, log_normal, beta (and q_*)      z = CDF(value) in [0, 1] (probability-integral transform)
//   categorical                             z = index of the choice
// q_* kinds round the value to a multiple of q (kept inside the value bounds where one exists).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "mlptune/tune/search_space.hpp"

namespace mlptune::tune::space {

// How a distribution's internal coordinate maps to its value.
enum class Transform { identity, exp, negative_exp, normal_quantile, log_normal_quantile, beta_quantile };

struct KindInfo {
  DistributionKind kind;
  std::string_view name;
  Transform transform;
  bool quantized;          // q_*: round to a multiple of q
  bool bounds_are_values;  // min/max are values (> 0 required for log kinds) rather than exponents
  bool uses_min_max;
  bool uses_mu_sigma;
  bool uses_a_b;
};

// Every kind, in enum order.
std::span<const KindInfo> kind_table();
const KindInfo& info(DistributionKind kind);
const KindInfo* find_kind(std::string_view name);

// The internal coordinate of one parameter. step is 1 for int_uniform, else 0 (continuous).
struct InternalRange {
  double low = 0.0;
  double high = 0.0;
  double step = 0.0;
};

bool is_categorical(const Distribution& distribution);
bool is_constant(const Distribution& distribution);
InternalRange internal_range(const Distribution& distribution);
// The values the distribution draws from, in the parameter's own units (log_uniform's natural-log
// bounds exponentiated), where it has bounds; nullopt for normal and constant/categorical kinds.
std::optional<std::pair<double, double>> natural_range(const Distribution& distribution);

// The largest whole number a distribution gives (its largest listed number, or the top of its
// range, rounded down); nullopt where it lists no number or has no upper bound (normal).
std::optional<double> largest_number(const Distribution& distribution);

// The most epochs the space's `epochs` parameter gives a trial (what rung schedules count up to
// when no max_iter is given): the largest listed value, or the top of its range; nullopt without
// an epochs parameter (or one that gives no whole number of at least 1).
std::optional<int> largest_epochs(const SearchSpace& space);

// z (clamped to the internal range; a choice index for categorical) to the parameter value.
ParamValue value_from_internal(const Distribution& distribution, double z);
// A value back to z; nullopt where the value cannot come from this distribution (wrong type,
// a choice not listed).
std::optional<double> internal_from_value(const Distribution& distribution, const ParamValue& value);
// The inverse CDF: u uniform in [0, 1) to a value with the distribution's law (categorical
// through the cumulative probabilities). Random and Sobol sampling both go through it.
ParamValue value_from_unit(const Distribution& distribution, double u);

// The number of grid points of a grid-able distribution and the point at an index.
bool grid_allowed(DistributionKind kind);
std::int64_t grid_count(const Distribution& distribution);
ParamValue grid_value(const Distribution& distribution, std::int64_t index);

}  // namespace mlptune::tune::space
