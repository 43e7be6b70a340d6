// The sizes a study config writes (depth and width ranges, run_cap, values lists, whole-number
// settings) are checked against their limits arithmetically, while the config is read.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "mlptune/error.hpp"
#include "mlptune/tune/study_config.hpp"
#include "thrown_message.hpp"

namespace mlptune::tune {
namespace {

using mlptune::testing::thrown_message;

std::string config_with(const std::string& parameters) {
  return "method: random\nrun_cap: 5\nparameters:\n" + parameters;
}

std::string refusal(const std::string& text) {
  return thrown_message<ConfigError>([&] { parse_study_config(text, "sweep.yaml"); });
}

void expect_pieces(const std::string& message, std::initializer_list<std::string> pieces) {
  for (const auto& piece : pieces) EXPECT_NE(message.find(piece), std::string::npos) << message << "\nlacks: " << piece;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(SizeLimitsConfig, TheLargestModelIsCountedWithTheStudysOwnWidth) {
  // 40000 layers of 8 units: 2.9M parameters. Counted with the default width 256 it would be 2.6e9.
  const StudyConfig config =
      parse_study_config(config_with("  width: {value: 8}\n  depth: {min: 1, max: 40000}\n"), "sweep.yaml");
  ASSERT_NE(config.space.find("depth"), nullptr);
  EXPECT_EQ(config.space.find("depth")->distribution.max, 40000.0);
}

TEST(SizeLimitsConfig, ADepthRangeWhoseModelIsTooLargeIsRefusedByArithmetic) {
  // 100000 layers of 256: 6.6e9 parameters. Building that model to count it takes seconds and GB;
  // counting it takes microseconds. The bound is far above the arithmetic, far below building.
  const auto start = std::chrono::steady_clock::now();
  const std::string message = refusal(config_with("  depth: {min: 1, max: 100000}\n"));
  EXPECT_LT(seconds_since(start), 2.0);
  expect_pieces(message, {"sweep.yaml:4:", "parameters.depth.max", "depth up to 100000 with the default width 256",
                          "6579134977", "at most 2147483647"});
}

TEST(SizeLimitsConfig, TheWidestWidthOfAListDecides) {
  const std::string message = refusal(config_with("  depth: {values: [2, 3]}\n  width: {values: [16, 40000]}\n"));
  expect_pieces(message,
                {"sweep.yaml:4:", "parameters.depth.values", "depth up to 3 with width up to 40000", "3200200001"});
  EXPECT_NO_THROW(
      parse_study_config(config_with("  depth: {values: [2, 3]}\n  width: {values: [16, 4000]}\n"), "sweep.yaml"));
}

TEST(SizeLimitsConfig, ADepthBeyondTheLayerLimitIsRefusedWithTheLimit) {
  // The fuzzing input that took 5 s and 1.3 GB: a depth range up to 1e8.
  const auto start = std::chrono::steady_clock::now();
  const std::string message = refusal(config_with("  width: {value: 8}\n  depth: {min: 1, max: 100000000}\n"));
  EXPECT_LT(seconds_since(start), 2.0);
  expect_pieces(message, {"sweep.yaml:5:", "parameters.depth.max", "[0, 100000]", "100000000"});
}

TEST(SizeLimitsConfig, AWidthRangeAloneUsesTheDefaultDepth) {
  const std::string message = refusal(config_with("  width: {min: 1, max: 2000000000}\n"));
  expect_pieces(message, {"sweep.yaml:4:", "parameters.width.max", "the default depth 1 with width up to 2000000000"});
}

TEST(SizeLimitsConfig, AnUnboundedRealDistributionOnAWholeNumberSettingIsRefusedWithTheFix) {
  expect_pieces(refusal(config_with("  epochs: {distribution: normal, mu: 20, sigma: 5}\n")),
                {"sweep.yaml:4:", "parameters.epochs.distribution", "normal draws real numbers without bounds",
                 "epochs takes whole numbers", "q_normal with a whole q (such as q: 1)"});
  expect_pieces(refusal(config_with("  batch_size: {distribution: log_normal, mu: 5, sigma: 1}\n")),
                {"parameters.batch_size.distribution", "q_log_normal"});
  expect_pieces(refusal(config_with("  depth: {min: 1.0, max: 4.0}\n")),
                {"parameters.depth.min", "uniform draws real numbers", "whole min and max (int_uniform)"});
  EXPECT_NO_THROW(
      parse_study_config(config_with("  epochs: {distribution: q_normal, mu: 20, sigma: 5, q: 1}\n"), "sweep.yaml"));
  EXPECT_NO_THROW(parse_study_config(config_with("  lr: {distribution: normal, mu: 0.1, sigma: 0.01}\n"),
                                     "sweep.yaml"));  // a real setting takes real draws
}

TEST(SizeLimitsConfig, ARunCapBeyondItsTypeSaysTheLimit) {
  const std::string message =
      refusal("method: random\nrun_cap: 1000000000000000\nparameters:\n  lr: {min: 0.1, max: 1.0}\n");
  expect_pieces(message, {"sweep.yaml:2:", "run_cap", "[1, 2147483647]", "1000000000000000"});
}

TEST(SizeLimitsConfig, ConcurrencyBeyondItsLimitIsRefusedWithTheLimit) {
  // Without run_cap, each slot is a thread with its own trainer: a million of them is refused here.
  const std::string head = "method: random\nparameters:\n  lr: {min: 0.1, max: 1.0}\nmlptune:\n  concurrency: ";
  expect_pieces(refusal(head + "1000000\n"), {"sweep.yaml:5:", "mlptune.concurrency", "[0, 1024]", "1000000"});
  EXPECT_EQ(parse_study_config(head + "1024\n", "sweep.yaml").settings.concurrency, 1024);
}

TEST(SizeLimitsConfig, ARepeatAtTheEndOfALongValuesListIsFound) {
  // Read through a hash set (the program's tests time a list of a million).
  std::string values;
  for (int i = 1; i <= 10000; ++i) values += std::to_string(i) + ", ";
  const StudyConfig config =
      parse_study_config(config_with("  batch_size: {values: [" + values + "10001]}\n"), "s.yaml");
  EXPECT_EQ(config.space.find("batch_size")->distribution.values.size(), 10001u);
  expect_pieces(refusal(config_with("  batch_size: {values: [" + values + "7]}\n")),
                {"sweep.yaml:4:", "parameters.batch_size.values", "choice '7' is listed twice"});
}

}  // namespace
}  // namespace mlptune::tune
