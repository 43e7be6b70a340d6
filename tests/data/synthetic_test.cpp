// make_line and make_spirals: shape, determinism from the seed, and the line's recoverable parameters.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "mlptune/data.hpp"

namespace mlptune {
namespace {

TEST(MakeLine, HasTheRequestedShape) {
  const Dataset line = make_line(37, 2.0, 1.0, 0.1, 5);
  EXPECT_EQ(line.task, Task::regression);
  EXPECT_EQ(line.rows, 37u);
  EXPECT_EQ(line.cols, 1u);
  EXPECT_EQ(line.target_width, 1);
  EXPECT_EQ(line.output_width(), 1);
  EXPECT_EQ(line.features.size(), 37u);
  EXPECT_EQ(line.targets.size(), 37u);
  for (const float x : line.features) {
    EXPECT_GE(x, -1.0f);
    EXPECT_LE(x, 1.0f);
  }
}

TEST(MakeLine, IsAFunctionOfItsSeed) {
  const Dataset first = make_line(200, 2.0, 1.0, 0.1, 42);
  const Dataset again = make_line(200, 2.0, 1.0, 0.1, 42);
  const Dataset other = make_line(200, 2.0, 1.0, 0.1, 43);
  EXPECT_EQ(first.features, again.features);
  EXPECT_EQ(first.targets, again.targets);
  EXPECT_NE(first.features, other.features);
  EXPECT_NE(first.targets, other.targets);
}

TEST(MakeLine, LeastSquaresFitRecoversSlopeAndIntercept) {
  const LineSpec spec;
  const Dataset line = make_line(spec.rows, spec.slope, spec.intercept, spec.noise_stddev, spec.seed);
  double sum_x = 0, sum_y = 0, sum_xx = 0, sum_xy = 0;
  const double n = double(line.rows);
  for (std::size_t row = 0; row < line.rows; ++row) {
    const double x = line.features[row], y = line.targets[row];
    sum_x += x, sum_y += y, sum_xx += x * x, sum_xy += x * y;
  }
  const double slope = (n * sum_xy - sum_x * sum_y) / (n * sum_xx - sum_x * sum_x);
  const double intercept = (sum_y - slope * sum_x) / n;
  // Standard errors with x uniform on [-1, 1] (variance 1/3): slope 0.1 / sqrt(1000 / 3) ~ 0.0055,
  // intercept 0.1 / sqrt(1000) ~ 0.0032. The bounds are about 5 standard errors.
  EXPECT_NEAR(slope, spec.slope, 0.03);
  EXPECT_NEAR(intercept, spec.intercept, 0.016);
  double squared_residuals = 0;
  for (std::size_t row = 0; row < line.rows; ++row) {
    const double residual = line.targets[row] - (slope * line.features[row] + intercept);
    squared_residuals += residual * residual;
  }
  // The residual spread estimates the noise: relative standard error 1 / sqrt(2 n) ~ 2.2%.
  EXPECT_NEAR(std::sqrt(squared_residuals / (n - 2)), spec.noise_stddev, 0.011);
}

TEST(MakeLine, WithoutNoiseLiesExactlyOnTheLine) {
  const Dataset line = make_line(50, -3.0, 0.5, 0.0, 1);
  for (std::size_t row = 0; row < line.rows; ++row) {
    EXPECT_FLOAT_EQ(line.targets[row], static_cast<float>(-3.0 * line.features[row] + 0.5));
  }
}

TEST(MakeSpirals, HasTheRequestedShapeAndBalancedClasses) {
  const Dataset spirals = make_spirals(101, 0.05, 3);
  EXPECT_EQ(spirals.task, Task::classification);
  EXPECT_EQ(spirals.rows, 101u);
  EXPECT_EQ(spirals.cols, 2u);
  EXPECT_EQ(spirals.num_classes, 2);
  EXPECT_EQ(spirals.features.size(), 202u);
  ASSERT_EQ(spirals.labels.size(), 101u);
  int ones = 0;
  for (const auto label : spirals.labels) {
    ASSERT_TRUE(label == 0 || label == 1);
    ones += label;
  }
  EXPECT_EQ(ones, 50);
}

TEST(MakeSpirals, IsAFunctionOfItsSeed) {
  const Dataset first = make_spirals(300, 0.05, 9);
  const Dataset again = make_spirals(300, 0.05, 9);
  const Dataset other = make_spirals(300, 0.05, 10);
  EXPECT_EQ(first.features, again.features);
  EXPECT_EQ(first.labels, again.labels);
  EXPECT_NE(first.features, other.features);
}

TEST(MakeSpirals, WithoutNoiseEachPointLiesOnItsArm) {
  // Arm k at position t in [0, 1): radius 0.05 + 0.95 t, angle 3 pi t + k pi (1.5 turns, the arms
  // half a turn apart). Recover t from the radius and check the angle, so a swapped label fails.
  const Dataset spirals = make_spirals(400, 0.0, 2);
  for (std::size_t row = 0; row < spirals.rows; ++row) {
    const double x = spirals.features[2 * row], y = spirals.features[2 * row + 1];
    const double radius = std::hypot(x, y);
    ASSERT_GE(radius, 0.05 - 1e-6);
    ASSERT_LT(radius, 1.0 + 1e-6);
    const double t = (radius - 0.05) / 0.95;
    const double angle = 3.0 * std::numbers::pi * t + std::numbers::pi * spirals.labels[row];
    // float coordinates: about 1e-7 relative, so 1e-5 absolute leaves ample room.
    EXPECT_NEAR(x, radius * std::cos(angle), 1e-5) << "row " << row;
    EXPECT_NEAR(y, radius * std::sin(angle), 1e-5) << "row " << row;
  }
}

}  // namespace
}  // namespace mlptune
