// Generated sets: a noisy line (parameters to recover) and two interleaved spirals, both pure
// functions of their seed through the counter-based generator.
#include <cmath>
#include <numbers>

#include "common/counter_rng.hpp"
#include "data/numeric_table.hpp"
#include "mlptune/data.hpp"

namespace mlptune {

namespace {

// Streams of the generated sets; distinct from the backends' shuffle and init streams.
constexpr std::uint64_t kLineXStream = 0x4C494E45'58ull;        // "LINEX"
constexpr std::uint64_t kLineNoiseStream = 0x4C494E45'4Eull;    // "LINEN"
constexpr std::uint64_t kSpiralTStream = 0x53504952'54ull;      // "SPIRT"
constexpr std::uint64_t kSpiralNoiseStream = 0x53504952'4Eull;  // "SPIRN"

// How far each spiral winds, in turns, and where it starts (away from the centre, where the two
// arms would otherwise overlap).
constexpr double kSpiralTurns = 1.5;
constexpr double kSpiralInnerRadius = 0.05;

// N(0, 1) number `index` of `stream`, from two consecutive words of the stream.
double standard_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  return rng::normal(rng::hash(seed, stream, 2 * index), rng::hash(seed, stream, 2 * index + 1));
}

double uniform01(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  return rng::uniform01(rng::hash(seed, stream, index));
}

}  // namespace

Dataset make_line(std::size_t rows, double slope, double intercept, double noise_stddev, std::uint64_t seed) {
  Dataset dataset;
  dataset.name = "line";
  dataset.task = Task::regression;
  dataset.rows = rows;
  dataset.cols = 1;
  dataset.target_width = 1;
  dataset.features.resize(rows);
  dataset.targets.resize(rows);
  for (std::size_t row = 0; row < rows; ++row) {
    const double x = 2.0 * uniform01(seed, kLineXStream, row) - 1.0;  // uniform in [-1, 1)
    const double noise = noise_stddev * standard_normal(seed, kLineNoiseStream, row);
    dataset.features[row] = static_cast<float>(x);
    dataset.targets[row] = static_cast<float>(slope * x + intercept + noise);
  }
  data::set_identity_scaling(dataset);
  return dataset;
}

Dataset make_spirals(std::size_t rows, double noise_stddev, std::uint64_t seed) {
  Dataset dataset;
  dataset.name = "spirals";
  dataset.task = Task::classification;
  dataset.rows = rows;
  dataset.cols = 2;
  dataset.num_classes = 2;
  dataset.features.resize(2 * rows);
  dataset.labels.resize(rows);
  for (std::size_t row = 0; row < rows; ++row) {
    // Rows alternate between the arms, so any prefix of the set is balanced.
    const auto arm = static_cast<std::int32_t>(row % 2);
    const double t = uniform01(seed, kSpiralTStream, row);  // position along the arm, [0, 1)
    const double radius = kSpiralInnerRadius + (1.0 - kSpiralInnerRadius) * t;
    const double angle = 2.0 * std::numbers::pi * kSpiralTurns * t + std::numbers::pi * arm;
    dataset.features[2 * row] = static_cast<float>(radius * std::cos(angle) +
                                                   noise_stddev * standard_normal(seed, kSpiralNoiseStream, 2 * row));
    dataset.features[2 * row + 1] = static_cast<float>(
        radius * std::sin(angle) + noise_stddev * standard_normal(seed, kSpiralNoiseStream, 2 * row + 1));
    dataset.labels[row] = arm;
  }
  data::set_identity_scaling(dataset);
  return dataset;
}

}  // namespace mlptune
