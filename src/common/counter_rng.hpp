// Counter-based random numbers shared by the CPU and CUDA backends: a value is a pure function of
// (seed, stream, index), so shuffles and initialisations need no RNG state and agree on both.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define MLPTUNE_HOST_DEVICE __host__ __device__
#else
#define MLPTUNE_HOST_DEVICE
#endif

namespace mlptune::rng {

// SplitMix64's finaliser: a bijection on 64-bit words with good avalanche.
MLPTUNE_HOST_DEVICE inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The value at `index` of the stream `stream` of generator `seed`.
MLPTUNE_HOST_DEVICE inline std::uint64_t hash(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  return mix64(mix64(mix64(seed) ^ stream) ^ index);
}

// Uniform in [0, 1) with 24 random bits (every value exact in float).
MLPTUNE_HOST_DEVICE inline float uniform01(std::uint64_t bits) {
  return float(bits >> 40) * 0x1p-24f;
}

// Standard normal by Box-Muller from two independent words. Host and device libm may differ in
// the last ulp, so initial parameters agree across backends to about 1e-6 relative, not bit for bit.
MLPTUNE_HOST_DEVICE inline float normal(std::uint64_t bits_a, std::uint64_t bits_b) {
  const float u1 = 1.0f - uniform01(bits_a);  // (0, 1]: log is finite
  const float u2 = uniform01(bits_b);
  return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530717958647692f * u2);
}

// Streams used by the backends; distinct constants keep the sequences independent.
inline constexpr std::uint64_t kShuffleStream = 0x53485546464C45ull;  // + epoch
inline constexpr std::uint64_t kInitStream = 0x494E4954ull;           // + 2 * layer (+1 for the second normal word)
inline constexpr std::uint64_t kDropoutStream = 0x44524F504F5554ull;  // + hidden layer

// Whether dropout at `rate` keeps element `element` (row-major in the (batch, width) output) of
// hidden layer `layer` at the optimizer step that follows `steps_taken` steps: a pure function of
// (trial seed, step, layer, element), so every backend draws the same mask and a trial repeats
// bit for bit. The chance of keeping is 1 - rate exactly at the 24-bit resolution of uniform01.
MLPTUNE_HOST_DEVICE inline bool dropout_keeps(std::uint64_t seed, std::int64_t steps_taken, int layer,
                                              std::uint64_t element, float rate) {
  const std::uint64_t step_seed = hash(seed, kDropoutStream + std::uint64_t(layer), std::uint64_t(steps_taken));
  return uniform01(mix64(step_seed ^ mix64(element))) >= rate;
}

}  // namespace mlptune::rng
