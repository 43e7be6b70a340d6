// What the sampler implementations share: their factories and counter-based uniform draws.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "common/counter_rng.hpp"
#include "mlptune/tune/sampler.hpp"

namespace mlptune::tune::sampling {

std::unique_ptr<Sampler> make_grid_sampler();
std::unique_ptr<Sampler> make_random_sampler(std::uint64_t seed);
std::unique_ptr<Sampler> make_sobol_sampler(std::uint64_t seed);
std::unique_ptr<Sampler> make_tpe_sampler(const SamplerOptions& options);

// A stable 64-bit stream id for a parameter name (FNV-1a), so draws do not depend on file order.
std::uint64_t name_stream(std::string_view name);

// Uniform in [0, 1) with 53 random bits.
inline double unit_from_bits(std::uint64_t bits) {
  return static_cast<double>(bits >> 11) * 0x1p-53;
}

// A sequence of uniform draws that is a pure function of (seed, stream): no hidden state to restore.
class UnitStream {
 public:
  UnitStream(std::uint64_t seed, std::uint64_t stream) : seed_(seed), stream_(stream) {}
  double next() { return unit_from_bits(rng::hash(seed_, stream_, index_++)); }

 private:
  std::uint64_t seed_;
  std::uint64_t stream_;
  std::uint64_t index_ = 0;
};

// Independent draws for every parameter from (seed, trial number, parameter name): the random
// sampler, and TPE's start-up trials.
Params random_params(const SearchSpace& space, std::uint64_t seed, int number);

}  // namespace mlptune::tune::sampling
