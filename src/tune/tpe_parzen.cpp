// The Parzen estimator of Optuna's TPESampler (optuna/samplers/_tpe/parzen_estimator.py, v5).
#include "tune/tpe_parzen.hpp"

#include <algorithm>
#include <boost/math/special_functions/erf.hpp>
#include <cmath>
#include <limits>
#include <numeric>

namespace mlptune::tune::tpe {
namespace {

constexpr double kPriorWeight = 1.0;
constexpr double kSqrtHalf = 0.70710678118654752440;
constexpr double kLogSqrtTwoPi = 0.91893853320467274178;
constexpr double kNegativeInfinity = -std::numeric_limits<double>::infinity();

double normal_cdf(double z) {
  return 0.5 * std::erfc(-z * kSqrtHalf);
}

// 1 - Phi(z) for z >= 0; beyond 8.5 it is below 1e-17, under half an ulp of 1, so it is taken as 0.
double normal_tail(double z) {
  constexpr double kNegligibleTail = 8.5;
  return z > kNegligibleTail ? 0.0 : 0.5 * std::erfc(z * kSqrtHalf);
}

// log(Phi(b) - Phi(a)) for a < b, computed in the tail where the difference is largest.
double log_gauss_mass(double a, double b) {
  if (a >= 0.0) {  // right tail: Phi(b) - Phi(a) = Q(a) - Q(b)
    const double upper = std::erfc(a * kSqrtHalf);
    if (upper <= 0.0) return kNegativeInfinity;
    return std::log(0.5 * upper) + std::log1p(-std::erfc(b * kSqrtHalf) / upper);
  }
  if (b <= 0.0) return log_gauss_mass(-b, -a);
  return std::log1p(-normal_tail(-a) - normal_tail(b));
}

double log_sum_exp(std::span<const double> values) {
  const double largest = *std::max_element(values.begin(), values.end());
  if (std::isinf(largest)) return largest;
  double sum = 0.0;
  for (const double value : values)
    if (value != kNegativeInfinity) sum += std::exp(value - largest);  // skipped kernels add nothing
  return largest + std::log(sum);
}

// The index whose cumulative weight first exceeds u.
std::size_t pick(std::span<const double> probabilities, double u) {
  double cumulative = 0.0;
  for (std::size_t i = 0; i + 1 < probabilities.size(); ++i) {
    cumulative += probabilities[i];
    if (u < cumulative) return i;
  }
  return probabilities.size() - 1;
}

// Optuna's bandwidth: the larger gap to a sorted neighbour (the range ends count as neighbours,
// except that the outermost kernels use their inner gap: consider_endpoints=False), clipped to
// [range / min(100, 1 + kernels), range] (the magic clip).
std::vector<double> bandwidths(std::span<const double> mus, double low, double high) {
  const std::size_t n = mus.size();
  std::vector<std::pair<double, std::size_t>> by_mu(n);  // (mu, index): ties keep index order, as a stable sort
  for (std::size_t i = 0; i < n; ++i) by_mu[i] = {mus[i], i};
  std::sort(by_mu.begin(), by_mu.end());
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = by_mu[i].second;
  std::vector<double> sorted(n + 2);
  sorted.front() = low;
  sorted.back() = high;
  for (std::size_t i = 0; i < n; ++i) sorted[i + 1] = mus[order[i]];
  std::vector<double> sorted_sigma(n);
  for (std::size_t i = 0; i < n; ++i)
    sorted_sigma[i] = std::max(sorted[i + 1] - sorted[i], sorted[i + 2] - sorted[i + 1]);
  if (n >= 2) {
    sorted_sigma.front() = sorted[2] - sorted[1];
    sorted_sigma.back() = sorted[n] - sorted[n - 1];
  }
  const double max_sigma = high - low;
  const double min_sigma = (high - low) / std::min(100.0, 1.0 + static_cast<double>(n + 1));
  std::vector<double> sigma(n);
  for (std::size_t i = 0; i < n; ++i) sigma[order[i]] = std::clamp(sorted_sigma[i], min_sigma, max_sigma);
  return sigma;
}

}  // namespace

std::vector<double> observation_weights(std::size_t count) {
  constexpr std::size_t kFlat = 25;
  std::vector<double> weights(count, 1.0);
  if (count < kFlat) return weights;
  const std::size_t ramp = count - kFlat;  // numpy.linspace(1/n, 1, n - 25)
  for (std::size_t i = 0; i < ramp; ++i) {
    const double start = 1.0 / static_cast<double>(count);
    weights[i] = ramp == 1 ? start : start + (1.0 - start) * static_cast<double>(i) / static_cast<double>(ramp - 1);
  }
  return weights;
}

ParzenEstimator::ParzenEstimator(std::span<const Dimension> dimensions, std::span<const double> observations)
    : dimensions_(dimensions.begin(), dimensions.end()),
      observations_(dimensions.empty() ? 0 : observations.size() / dimensions.size()),
      kernels_(dimensions.size()) {
  weights_ = observation_weights(observations_);
  weights_.push_back(observations_ == 0 ? 1.0 : kPriorWeight);
  const double total = std::accumulate(weights_.begin(), weights_.end(), 0.0);
  for (double& weight : weights_) {
    weight /= total;
    log_weights_.push_back(std::log(weight));
  }
  std::vector<double> column(observations_);
  for (std::size_t d = 0; d < dimensions_.size(); ++d) {
    for (std::size_t i = 0; i < observations_; ++i) column[i] = observations[i * dimensions_.size() + d];
    if (dimensions_[d].categorical)
      build_categorical(d, column);
    else
      build_numeric(d, column);
    if (dimensions_[d].step > 0 && !dimensions_[d].categorical) integer_dimensions_.push_back(d);
  }
}

void ParzenEstimator::build_numeric(std::size_t d, std::span<const double> observations) {
  const Dimension& dimension = dimensions_[d];
  const double low = dimension.low - dimension.step / 2;
  const double high = dimension.high + dimension.step / 2;
  Kernels& kernels = kernels_[d];
  kernels.mu.assign(observations.begin(), observations.end());
  kernels.sigma = bandwidths(observations, low, high);
  kernels.mu.push_back(0.5 * (low + high));  // the prior
  kernels.sigma.push_back(high - low);
  for (std::size_t k = 0; k < kernels.mu.size(); ++k) {
    const double sigma = kernels.sigma[k];
    const double mass = log_gauss_mass((low - kernels.mu[k]) / sigma, (high - kernels.mu[k]) / sigma);
    kernels.log_normaliser.push_back(mass + (dimension.step > 0 ? 0.0 : std::log(sigma) + kLogSqrtTwoPi));
    // One step holds at most step * (peak density), and never more than the whole truncated mass.
    if (dimension.step > 0)
      kernels.log_mass_bound.push_back(std::min(0.0, std::log(dimension.step / sigma) - kLogSqrtTwoPi) - mass);
  }
}

// Kernel k puts 1 on its observed choice plus the prior weight spread by the prior probabilities;
// the prior kernel is the prior itself. Uniform priors give Optuna's table exactly.
void ParzenEstimator::build_categorical(std::size_t d, std::span<const double> observations) {
  const std::vector<double>& prior = dimensions_[d].choice_prior;
  const std::size_t choices = prior.size();
  const double kernel_count = static_cast<double>(observations.size() + 1);
  Kernels& kernels = kernels_[d];
  std::vector<double> smoothing(choices), log_smoothing(choices);
  for (std::size_t c = 0; c < choices; ++c) smoothing[c] = kPriorWeight / kernel_count * prior[c] * choices;
  const double smoothing_total = std::accumulate(smoothing.begin(), smoothing.end(), 0.0);
  for (std::size_t k = 0; k <= observations.size(); ++k) {
    const bool observed = k < observations.size();
    const std::size_t choice = observed ? static_cast<std::size_t>(observations[k]) : choices;
    const double total = smoothing_total + (observed ? 1.0 : 0.0);
    const double log_total = std::log(total);
    if (k == 0 || k == observations.size())  // the smoothing's logs, once per total
      for (std::size_t c = 0; c < choices; ++c) log_smoothing[c] = std::log(smoothing[c]) - log_total;
    for (std::size_t c = 0; c < choices; ++c) {
      const double value = smoothing[c] + (c == choice ? 1.0 : 0.0);
      kernels.choice_probability.push_back(value / total);
      kernels.log_choice_probability.push_back(c == choice ? std::log(value) - log_total : log_smoothing[c]);
    }
  }
}

double ParzenEstimator::sample_coordinate(std::size_t d, std::size_t kernel, double u) const {
  const Dimension& dimension = dimensions_[d];
  const Kernels& kernels = kernels_[d];
  if (dimension.categorical) {
    const std::size_t choices = dimension.choice_prior.size();
    return static_cast<double>(pick({kernels.choice_probability.data() + kernel * choices, choices}, u));
  }
  const double low = dimension.low - dimension.step / 2;
  const double high = dimension.high + dimension.step / 2;
  const double mu = kernels.mu[kernel];
  const double sigma = kernels.sigma[kernel];
  // Inverse CDF of the truncated normal; mu lies in [low, high], so neither end is deep in a tail.
  const double lower = normal_cdf((low - mu) / sigma);
  const double upper = normal_cdf((high - mu) / sigma);
  const double p = std::clamp(lower + u * (upper - lower), 1e-300, 1.0 - 1e-16);
  const double x = std::clamp(mu - sigma * std::sqrt(2.0) * boost::math::erfc_inv(2.0 * p), low, high);
  if (dimension.step == 0.0) return x;
  return std::clamp(dimension.low + std::round((x - dimension.low) / dimension.step) * dimension.step, dimension.low,
                    dimension.high);
}

std::vector<double> ParzenEstimator::sample(sampling::UnitStream& draws, int count) const {
  const std::size_t width = dimensions_.size();
  std::vector<double> points(static_cast<std::size_t>(count) * width);
  for (int i = 0; i < count; ++i) {
    const std::size_t kernel = pick(weights_, draws.next());
    for (std::size_t d = 0; d < width; ++d) points[i * width + d] = sample_coordinate(d, kernel, draws.next());
  }
  return points;
}

// Categorical and continuous coordinates: cheap, added for every kernel.
void ParzenEstimator::add_log_density(std::size_t d, double x, std::vector<double>& per_kernel) const {
  const Dimension& dimension = dimensions_[d];
  const Kernels& kernels = kernels_[d];
  const std::size_t count = per_kernel.size();
  if (dimension.categorical) {
    const std::size_t choices = dimension.choice_prior.size();
    const std::size_t choice = static_cast<std::size_t>(x);
    for (std::size_t k = 0; k < count; ++k) per_kernel[k] += kernels.log_choice_probability[k * choices + choice];
    return;
  }
  for (std::size_t k = 0; k < count; ++k) {
    const double z = (x - kernels.mu[k]) / kernels.sigma[k];
    per_kernel[k] += -0.5 * z * z - kernels.log_normaliser[k];
  }
}

// An integer coordinate: the kernel's mass on [x - step/2, x + step/2].
double ParzenEstimator::integer_log_mass(std::size_t d, double x, std::size_t kernel) const {
  const double half_step = dimensions_[d].step / 2;
  const Kernels& kernels = kernels_[d];
  const double mu = kernels.mu[kernel];
  const double sigma = kernels.sigma[kernel];
  return log_gauss_mass((x - half_step - mu) / sigma, (x + half_step - mu) / sigma) - kernels.log_normaliser[kernel];
}

// Integer coordinates need two erfc per kernel, so kernels are skipped when they cannot matter: a
// kernel whose upper bound (exact cheap coordinates + the largest mass of one step) lies more than
// kNegligible below an exactly computed kernel changes the sum by less than e^-40 relative.
// The kernels with the largest bounds are computed first to find such a reference.
void ParzenEstimator::add_integer_log_masses(std::span<const double> point, std::vector<double>& per_kernel) const {
  constexpr double kNegligible = 40.0;
  const std::size_t count = per_kernel.size();
  std::vector<double> bound(per_kernel);
  for (const std::size_t d : integer_dimensions_)
    for (std::size_t k = 0; k < count; ++k) bound[k] += kernels_[d].log_mass_bound[k];
  std::vector<bool> done(count, false);
  double reference = kNegativeInfinity;
  const auto compute = [&](std::size_t k) {
    for (const std::size_t d : integer_dimensions_) per_kernel[k] += integer_log_mass(d, point[d], k);
    reference = std::max(reference, per_kernel[k]);
    done[k] = true;
  };
  const double largest_bound = *std::max_element(bound.begin(), bound.end());
  for (std::size_t k = 0; k < count; ++k)
    if (bound[k] >= largest_bound - kNegligible) compute(k);
  for (std::size_t k = 0; k < count; ++k) {
    if (done[k]) continue;
    if (bound[k] < reference - kNegligible)
      per_kernel[k] = kNegativeInfinity;
    else
      compute(k);
  }
}

std::vector<double> ParzenEstimator::log_pdf(std::span<const double> points) const {
  const std::size_t width = dimensions_.size();
  const std::size_t count = width == 0 ? 0 : points.size() / width;
  std::vector<double> result(count);
  std::vector<double> per_kernel(weights_.size());
  for (std::size_t i = 0; i < count; ++i) {
    const std::span<const double> point = points.subspan(i * width, width);
    per_kernel = log_weights_;
    for (std::size_t d = 0; d < width; ++d)
      if (dimensions_[d].categorical || dimensions_[d].step == 0.0) add_log_density(d, point[d], per_kernel);
    if (!integer_dimensions_.empty()) add_integer_log_masses(point, per_kernel);
    result[i] = log_sum_exp(per_kernel);
  }
  return result;
}

}  // namespace mlptune::tune::tpe
