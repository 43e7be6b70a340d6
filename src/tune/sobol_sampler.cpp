// Quasi-random search: Boost's Sobol sequence, scrambled per seed (random linear matrix scramble
// plus a random digital shift, which keep the net structure), mapped through each inverse CDF.
#include <bit>
#include <boost/random/sobol.hpp>
#include <vector>

#include "tune/sampler_internal.hpp"
#include "tune/search_space_math.hpp"

namespace mlptune::tune::sampling {
namespace {

constexpr std::uint64_t kScrambleStream = 0x534F424F4Cull;
constexpr int kDigits = 32;

// One dimension's scramble in base 2. Digit i (bit 31 - i) of the output is digit i of the input
// XOR a random combination of the more significant digits (a lower-triangular matrix with unit
// diagonal, so the map is a bijection on every elementary interval), then XOR a random shift.
class DigitScramble {
 public:
  DigitScramble(std::uint64_t seed, std::size_t dimension) {
    UnitStream draws(seed, kScrambleStream + dimension);
    const auto random_word = [&] { return static_cast<std::uint32_t>(draws.next() * 0x1p32); };
    for (int digit = 0; digit < kDigits; ++digit) {
      const std::uint32_t own_bit = 1u << (kDigits - 1 - digit);
      const std::uint32_t higher_bits = ~((own_bit << 1) - 1u);  // 0 for the most significant digit
      rows_[digit] = own_bit | (random_word() & higher_bits);
    }
    shift_ = random_word();
  }

  std::uint32_t operator()(std::uint32_t x) const {
    std::uint32_t out = 0;
    for (int digit = 0; digit < kDigits; ++digit)
      out |= static_cast<std::uint32_t>(std::popcount(x & rows_[digit]) & 1) << (kDigits - 1 - digit);
    return out ^ shift_;
  }

 private:
  std::uint32_t rows_[kDigits] = {};
  std::uint32_t shift_ = 0;
};

class SobolSampler final : public Sampler {
 public:
  explicit SobolSampler(std::uint64_t seed) : seed_(seed) {}

  // Point `number` of the sequence: one coordinate per non-constant parameter, in file order.
  Params sample(const SearchSpace& space, std::span<const FrozenTrial>, Goal, int number) override {
    std::vector<const ParameterSpec*> searched;
    Params params;
    for (const auto& parameter : space.parameters) {
      if (space::is_constant(parameter.distribution))
        params[parameter.name] = parameter.distribution.values.front();
      else
        searched.push_back(&parameter);
    }
    if (searched.empty()) return params;
    // Boost's engine starts after the origin: seed(n - 1) then reading gives point n; point 0 is the origin.
    boost::random::sobol_engine<std::uint32_t, kDigits> engine(searched.size());
    if (number > 0) engine.seed(static_cast<std::uint32_t>(number - 1));
    for (std::size_t dimension = 0; dimension < searched.size(); ++dimension) {
      const std::uint32_t digits = number > 0 ? engine() : 0u;
      const double u = static_cast<double>(DigitScramble(seed_, dimension)(digits)) * 0x1p-32;
      params[searched[dimension]->name] = space::value_from_unit(searched[dimension]->distribution, u);
    }
    return params;
  }

 private:
  std::uint64_t seed_;
};

}  // namespace

std::unique_ptr<Sampler> make_sobol_sampler(std::uint64_t seed) {
  return std::make_unique<SobolSampler>(seed);
}

}  // namespace mlptune::tune::sampling
