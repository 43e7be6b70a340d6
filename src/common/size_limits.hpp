// The largest sizes mlptune accepts, and the overflow-safe arithmetic that checks a size a user
// wrote against them before anything is built from it.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace mlptune {

// Matrix products index with 32-bit integers, and each parameter is also a gradient and up to two
// optimizer slots: past 2^31 - 1 parameters a model cannot be trained here.
inline constexpr std::int64_t kMaxParameters = std::numeric_limits<std::int32_t>::max();

// Hidden layers of one model. Each layer has its own buffers and kernel launches in every step, so
// that a model deeper than this spends its time on bookkeeping, not arithmetic.
inline constexpr std::int64_t kMaxHiddenLayers = 100000;

// Rows of a data file: epoch permutations hold 32-bit row indices.
inline constexpr std::uint64_t kMaxRows = std::numeric_limits<std::uint32_t>::max();

// Feature columns of a data file: the smallest model over them (no hidden layer, one output) has
// one weight per column and a bias.
inline constexpr std::uint64_t kMaxColumns = std::uint64_t(kMaxParameters) - 1;

// Trials at once (mlptune.concurrency, tune --concurrency). Each is a thread with a trainer and
// its buffers (on a GPU, a stream too): far more than any machine runs usefully side by side.
inline constexpr int kMaxConcurrency = 1024;

inline constexpr std::int64_t kSaturated = std::numeric_limits<std::int64_t>::max();

// a * b and a + b for a, b >= 0; kSaturated where the exact result does not fit.
constexpr std::int64_t saturating_multiply(std::int64_t a, std::int64_t b) {
  std::int64_t product = 0;
  return __builtin_mul_overflow(a, b, &product) ? kSaturated : product;
}
constexpr std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? kSaturated : sum;
}

// Weights and biases of a layer of `in` inputs and `out` outputs.
constexpr std::int64_t layer_parameter_count(std::int64_t in, std::int64_t out) {
  return saturating_add(saturating_multiply(in, out), out);
}

// The parameters of a model with `depth` hidden layers of `width` units between `inputs` and
// `outputs`, computed without building it (all arguments >= 0); kSaturated past int64.
constexpr std::int64_t layered_parameter_count(std::int64_t inputs, std::int64_t depth, std::int64_t width,
                                               std::int64_t outputs) {
  if (depth == 0) return layer_parameter_count(inputs, outputs);
  const std::int64_t inner = saturating_multiply(depth - 1, layer_parameter_count(width, width));
  return saturating_add(saturating_add(layer_parameter_count(inputs, width), inner),
                        layer_parameter_count(width, outputs));
}

// A count for messages: its digits, or "more than 9223372036854775807" where it saturated.
inline std::string saturated_count_text(std::int64_t count) {
  return count == kSaturated ? "more than " + std::to_string(kSaturated) : std::to_string(count);
}

}  // namespace mlptune
