// Random search: each trial's values are a pure function of (seed, trial number, parameter name).
#include "tune/sampler_internal.hpp"
#include "tune/search_space_math.hpp"

namespace mlptune::tune::sampling {
namespace {

constexpr std::uint64_t kRandomStream = 0x52414E444F4Dull;

class RandomSampler final : public Sampler {
 public:
  explicit RandomSampler(std::uint64_t seed) : seed_(seed) {}
  Params sample(const SearchSpace& space, std::span<const FrozenTrial>, Goal, int number) override {
    return random_params(space, seed_, number);
  }

 private:
  std::uint64_t seed_;
};

}  // namespace

std::uint64_t name_stream(std::string_view name) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (const char c : name) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return hash;
}

Params random_params(const SearchSpace& space, std::uint64_t seed, int number) {
  Params params;
  for (const auto& parameter : space.parameters) {
    const std::uint64_t bits =
        rng::hash(seed, kRandomStream ^ name_stream(parameter.name), static_cast<std::uint64_t>(number));
    params[parameter.name] = space::value_from_unit(parameter.distribution, unit_from_bits(bits));
  }
  return params;
}

std::unique_ptr<Sampler> make_random_sampler(std::uint64_t seed) {
  return std::make_unique<RandomSampler>(seed);
}

}  // namespace mlptune::tune::sampling
