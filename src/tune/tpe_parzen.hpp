// Optuna's Parzen estimator for TPE: a weighted mixture of product kernels over the internal space
// (truncated normals for numbers, smoothed choice tables for categories), one kernel per trial plus the prior.
#pragma once

#include <span>
#include <vector>

#include "tune/sampler_internal.hpp"

namespace mlptune::tune::tpe {

// One searched parameter in its internal coordinate (search_space_math.hpp).
struct Dimension {
  bool categorical = false;
  std::vector<double> choice_prior;  // categorical: prior probability of each choice
  double low = 0.0;                  // numbers: internal range
  double high = 0.0;
  double step = 0.0;  // 1 for integers (kernels spread over [low - 1/2, high + 1/2]), else 0
};

// Points are rows of a row-major matrix: point i, dimension d at [i * dimensions + d].
class ParzenEstimator {
 public:
  // `observations` are in trial-number order (older trials weigh less once there are more than 25).
  ParzenEstimator(std::span<const Dimension> dimensions, std::span<const double> observations);

  std::vector<double> sample(sampling::UnitStream& draws, int count) const;
  // log density (log mass for integer and categorical coordinates) of each point.
  std::vector<double> log_pdf(std::span<const double> points) const;

 private:
  struct Kernels {                                  // per dimension, one entry per kernel
    std::vector<double> mu, sigma, log_normaliser;  // numbers
    std::vector<double> log_mass_bound;             // integers: log of the largest mass one step can hold
    std::vector<double> choice_probability;         // categorical: kernel k, choice c at [k * choices + c]
    std::vector<double> log_choice_probability;
  };
  void build_numeric(std::size_t d, std::span<const double> observations);
  void build_categorical(std::size_t d, std::span<const double> observations);
  double sample_coordinate(std::size_t d, std::size_t kernel, double u) const;
  void add_log_density(std::size_t d, double x, std::vector<double>& per_kernel) const;
  double integer_log_mass(std::size_t d, double x, std::size_t kernel) const;
  void add_integer_log_masses(std::span<const double> point, std::vector<double>& per_kernel) const;

  std::vector<Dimension> dimensions_;
  std::size_t observations_ = 0;
  std::vector<double> weights_;  // observations then the prior, summing to 1
  std::vector<double> log_weights_;
  std::vector<Kernels> kernels_;
  std::vector<std::size_t> integer_dimensions_;
};

// Optuna's default_weights: 1 each below 25 observations, else a ramp from 1/n for the oldest.
std::vector<double> observation_weights(std::size_t count);

}  // namespace mlptune::tune::tpe
