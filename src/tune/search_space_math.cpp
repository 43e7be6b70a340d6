// Maps between parameter values, their internal coordinates, and the unit interval (inverse CDFs).
#include "tune/search_space_math.hpp"

#include <algorithm>
#include <array>
#include <boost/math/distributions/beta.hpp>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "mlptune/error.hpp"

namespace mlptune::tune::space {
namespace {

using K = DistributionKind;
using T = Transform;

//                 kind                       name                       transform          quantized values  min/max
//                 mu/sig a/b
constexpr std::array<KindInfo, 17> kKinds{{
    {K::constant, "constant", T::identity, false, true, false, false, false},
    {K::categorical, "categorical", T::identity, false, true, false, false, false},
    {K::int_uniform, "int_uniform", T::identity, false, true, true, false, false},
    {K::uniform, "uniform", T::identity, false, true, true, false, false},
    {K::q_uniform, "q_uniform", T::identity, true, true, true, false, false},
    {K::log_uniform, "log_uniform", T::exp, false, false, true, false, false},
    {K::log_uniform_values, "log_uniform_values", T::exp, false, true, true, false, false},
    {K::q_log_uniform, "q_log_uniform", T::exp, true, false, true, false, false},
    {K::q_log_uniform_values, "q_log_uniform_values", T::exp, true, true, true, false, false},
    {K::inv_log_uniform, "inv_log_uniform", T::negative_exp, false, false, true, false, false},
    {K::inv_log_uniform_values, "inv_log_uniform_values", T::negative_exp, false, true, true, false, false},
    {K::normal, "normal", T::normal_quantile, false, true, false, true, false},
    {K::q_normal, "q_normal", T::normal_quantile, true, true, false, true, false},
    {K::log_normal, "log_normal", T::log_normal_quantile, false, true, false, true, false},
    {K::q_log_normal, "q_log_normal", T::log_normal_quantile, true, true, false, true, false},
    {K::beta, "beta", T::beta_quantile, false, true, false, false, true},
    {K::q_beta, "q_beta", T::beta_quantile, true, true, false, false, true},
}};

// Quantiles at exactly 0 or 1 are infinite for the normal families; keep z just inside.
constexpr double kUnitMargin = 1e-12;

bool is_quantile_transform(Transform transform) {
  return transform == T::normal_quantile || transform == T::log_normal_quantile || transform == T::beta_quantile;
}

// z to the value before q-rounding.
double continuous_value(const Distribution& d, double z) {
  const double p = std::clamp(z, kUnitMargin, 1.0 - kUnitMargin);
  switch (info(d.kind).transform) {
    case T::identity:
      return z;
    case T::exp:
      return std::exp(z);
    case T::negative_exp:
      return std::exp(-z);
    case T::normal_quantile:
      return boost::math::quantile(boost::math::normal(d.mu, d.sigma), p);
    case T::log_normal_quantile:
      return std::exp(boost::math::quantile(boost::math::normal(d.mu, d.sigma), p));
    case T::beta_quantile:
      return boost::math::quantile(boost::math::beta_distribution<>(d.a, d.b), p);
  }
  return z;
}

// The value before q-rounding back to z (possibly infinite or NaN for values outside the law's support).
double continuous_internal(const Distribution& d, double value) {
  switch (info(d.kind).transform) {
    case T::identity:
      return value;
    case T::exp:
      return std::log(value);
    case T::negative_exp:
      return -std::log(value);
    case T::normal_quantile:
      return boost::math::cdf(boost::math::normal(d.mu, d.sigma), value);
    case T::log_normal_quantile:
      return value > 0 ? boost::math::cdf(boost::math::normal(d.mu, d.sigma), std::log(value)) : 0.0;
    case T::beta_quantile:
      return boost::math::cdf(boost::math::beta_distribution<>(d.a, d.b), std::clamp(value, 0.0, 1.0));
  }
  return value;
}

// Rounds to a multiple of q, moved inside [lowest, highest] when the rounding stepped out.
double quantize(double value, double q, double lowest, double highest) {
  double rounded = std::round(value / q) * q;
  if (rounded < lowest && std::ceil(lowest / q) * q <= highest) rounded = std::ceil(lowest / q) * q;
  if (rounded > highest && std::floor(highest / q) * q >= lowest) rounded = std::floor(highest / q) * q;
  return rounded;
}

ParamValue typed(const Distribution& d, double value) {
  if (d.integer) return static_cast<std::int64_t>(std::llround(value));
  return value;
}

std::optional<double> numeric(const ParamValue& value) {
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return static_cast<double>(*integer);
  if (const auto* real = std::get_if<double>(&value)) return *real;
  return std::nullopt;
}

std::optional<double> choice_index(const Distribution& d, const ParamValue& value) {
  const auto found = std::find(d.values.begin(), d.values.end(), value);
  if (found == d.values.end()) return std::nullopt;
  return static_cast<double>(found - d.values.begin());
}

// q_uniform grid: the multiples k·q in [min, max], k from first to last.
// A whole number held in a double, as int64: beyond int64's range the cast would be undefined, so
// a grid that large (min: -1e300, or q: 1e-300) is refused.
std::int64_t grid_int64(double value) {
  constexpr double kLimit = 9.2e18;  // just below 2^63
  if (!(std::fabs(value) < kLimit))
    throw ConfigError("a grid axis of " + std::to_string(value) +
                      " points or steps is beyond the 64-bit range; narrow min and max or raise q");
  return static_cast<std::int64_t>(value);
}

std::pair<std::int64_t, std::int64_t> q_multiples(const Distribution& d) {
  constexpr double kSlack = 1e-9;  // min/max written as multiples of q must count
  return {grid_int64(std::ceil(d.min / d.q - kSlack)), grid_int64(std::floor(d.max / d.q + kSlack))};
}

}  // namespace

std::span<const KindInfo> kind_table() {
  return kKinds;
}

const KindInfo& info(DistributionKind kind) {
  return kKinds.at(static_cast<std::size_t>(kind));
}

const KindInfo* find_kind(std::string_view name) {
  for (const auto& entry : kKinds)
    if (entry.name == name) return &entry;
  return nullptr;
}

bool is_categorical(const Distribution& d) {
  return d.kind == K::categorical;
}
bool is_constant(const Distribution& d) {
  return d.kind == K::constant;
}

InternalRange internal_range(const Distribution& d) {
  const KindInfo& kind = info(d.kind);
  if (d.kind == K::categorical) return {0.0, static_cast<double>(d.values.size() - 1), 1.0};
  if (d.kind == K::int_uniform) return {d.min, d.max, 1.0};
  if (is_quantile_transform(kind.transform)) return {0.0, 1.0, 0.0};
  if (kind.transform == T::identity || !kind.bounds_are_values) return {d.min, d.max, 0.0};
  if (kind.transform == T::exp) return {std::log(d.min), std::log(d.max), 0.0};
  return {-std::log(d.max), -std::log(d.min), 0.0};  // inv_log_uniform_values
}

ParamValue value_from_internal(const Distribution& d, double z) {
  if (d.kind == K::constant) return d.values.front();
  const InternalRange range = internal_range(d);
  z = std::clamp(z, range.low, range.high);
  if (d.kind == K::categorical) return d.values.at(static_cast<std::size_t>(std::llround(z)));
  if (d.kind == K::int_uniform) return static_cast<std::int64_t>(std::llround(z));
  const double value = continuous_value(d, z);
  if (!info(d.kind).quantized) return typed(d, value);
  const double at_low = continuous_value(d, range.low);
  const double at_high = continuous_value(d, range.high);
  return typed(d, quantize(value, d.q, std::min(at_low, at_high), std::max(at_low, at_high)));
}

std::optional<double> internal_from_value(const Distribution& d, const ParamValue& value) {
  if (d.kind == K::constant) return d.values.front() == value ? std::optional<double>(0.0) : std::nullopt;
  if (d.kind == K::categorical) return choice_index(d, value);
  const auto number = numeric(value);
  if (!number) return std::nullopt;
  const double z = continuous_internal(d, *number);
  if (std::isnan(z)) return std::nullopt;
  const InternalRange range = internal_range(d);
  return std::clamp(z, range.low, range.high);
}

ParamValue value_from_unit(const Distribution& d, double u) {
  if (d.kind == K::constant) return d.values.front();
  if (d.kind == K::categorical) {
    const std::size_t count = d.values.size();
    double cumulative = 0.0;
    for (std::size_t i = 0; i + 1 < count; ++i) {
      cumulative += d.probabilities.empty() ? 1.0 / static_cast<double>(count) : d.probabilities[i];
      if (u < cumulative) return d.values[i];
    }
    return d.values.back();
  }
  const InternalRange range = internal_range(d);
  if (d.kind == K::int_uniform) return value_from_internal(d, range.low + std::floor(u * (range.high - range.low + 1)));
  return value_from_internal(d, range.low + u * (range.high - range.low));
}

bool grid_allowed(DistributionKind kind) {
  return kind == K::constant || kind == K::categorical || kind == K::int_uniform || kind == K::q_uniform;
}

std::int64_t grid_count(const Distribution& d) {
  switch (d.kind) {
    case K::constant:
      return 1;
    case K::categorical:
      return static_cast<std::int64_t>(d.values.size());
    case K::int_uniform:
      return grid_int64(d.max - d.min + 1);
    case K::q_uniform: {
      const auto [first, last] = q_multiples(d);
      return std::max<std::int64_t>(0, grid_int64(double(last) - double(first) + 1));
    }
    default:
      throw std::invalid_argument("grid over a continuous distribution");
  }
}

ParamValue grid_value(const Distribution& d, std::int64_t index) {
  switch (d.kind) {
    case K::constant:
      return d.values.front();
    case K::categorical:
      return d.values.at(static_cast<std::size_t>(index));
    case K::int_uniform:
      return static_cast<std::int64_t>(d.min) + index;
    case K::q_uniform:
      return typed(d, static_cast<double>(q_multiples(d).first + index) * d.q);
    default:
      throw std::invalid_argument("grid over a continuous distribution");
  }
}

std::optional<std::pair<double, double>> natural_range(const Distribution& d) {
  switch (d.kind) {
    case DistributionKind::int_uniform:
    case DistributionKind::uniform:
    case DistributionKind::q_uniform:
    case DistributionKind::log_uniform_values:
    case DistributionKind::q_log_uniform_values:
    case DistributionKind::inv_log_uniform_values:
      return std::pair{d.min, d.max};
    case DistributionKind::log_uniform:
    case DistributionKind::q_log_uniform:
      return std::pair{std::exp(d.min), std::exp(d.max)};
    case DistributionKind::inv_log_uniform:
      return std::pair{std::exp(-d.max), std::exp(-d.min)};
    case DistributionKind::beta:
    case DistributionKind::q_beta:
      return std::pair{0.0, 1.0};
    default:
      return std::nullopt;
  }
}

std::optional<double> largest_number(const Distribution& distribution) {
  if (distribution.values.empty()) {
    if (const auto range = natural_range(distribution)) return std::floor(range->second);
    return std::nullopt;
  }
  std::optional<double> largest;
  for (const ParamValue& value : distribution.values) {
    std::optional<double> number;
    if (const auto* integer = std::get_if<std::int64_t>(&value)) number = double(*integer);
    if (const auto* real = std::get_if<double>(&value)) number = std::floor(*real);
    if (number && (!largest || *number > *largest)) largest = number;
  }
  return largest;
}

std::optional<int> largest_epochs(const SearchSpace& space) {
  const ParameterSpec* epochs = space.find("epochs");
  if (!epochs) return std::nullopt;
  const double largest = largest_number(epochs->distribution).value_or(0.0);
  if (!(largest >= 1.0)) return std::nullopt;
  return int(std::min(largest, double(std::numeric_limits<int>::max())));
}

}  // namespace mlptune::tune::space
