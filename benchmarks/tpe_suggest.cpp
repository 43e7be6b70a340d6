// Benchmark (not a test): milliseconds per TPE suggestion after 100 and 1,000 finished trials on a
// 5-parameter space; writes the synthetic history to JSON so benchmarks/tpe_optuna.py times Optuna on it.
//   bench_tpe_suggest [history.json]     (scripts/bench-tpe runs both and prints the ratio)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/counter_rng.hpp"
#include "mlptune/tune/study_config.hpp"

namespace {

using namespace mlptune::tune;

constexpr int kLargestHistory = 1000;
constexpr std::uint64_t kNoiseStream = 0x4E4F495345ull;

const char* const kSpaceYaml = R"(method: bayes
metric: {name: validation_loss, goal: minimize}
run_cap: 1000
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-5, max: 1.0e-1}
  momentum: {min: 0.0, max: 0.99}
  width: {min: 16, max: 1024}
  depth: {min: 1, max: 6}
  activation: {values: [relu, tanh, gelu, sigmoid]}
)";

double number(const ParamValue& value) {
  return std::holds_alternative<std::int64_t>(value) ? static_cast<double>(std::get<std::int64_t>(value))
                                                     : std::get<double>(value);
}

// A smooth synthetic validation loss with a little deterministic noise.
double synthetic_loss(const Params& params, int number_of_trial) {
  const double noise =
      (mlptune::rng::hash(0, kNoiseStream, static_cast<std::uint64_t>(number_of_trial)) >> 11) * 0x1p-53 * 0.05;
  const double activation_penalty = std::get<std::string>(params.at("activation")) == "gelu" ? 0.0 : 0.2;
  return std::pow(std::log10(number(params.at("lr"))) + 3.0, 2) + std::pow(number(params.at("momentum")) - 0.9, 2) +
         std::abs(std::log2(number(params.at("width"))) - 8.0) / 4 + std::pow(number(params.at("depth")) - 3.0, 2) / 4 +
         activation_penalty + noise;
}

// Random trials (seed 0), each complete with its synthetic loss.
std::vector<FrozenTrial> synthetic_history(const SearchSpace& space) {
  auto random = make_sampler(Method::random, SamplerOptions{});
  std::vector<FrozenTrial> trials;
  for (int n = 0; n < kLargestHistory; ++n) {
    FrozenTrial trial;
    trial.number = n;
    trial.state = RunState::complete;
    trial.params = random->sample(space, {}, Goal::minimize, n);
    trial.value = synthetic_loss(trial.params, n);
    trials.push_back(std::move(trial));
  }
  return trials;
}

// The space in Optuna's terms (FloatDistribution, IntDistribution, CategoricalDistribution).
nlohmann::json optuna_distribution(const ParameterSpec& parameter) {
  const Distribution& d = parameter.distribution;
  switch (d.kind) {
    case DistributionKind::log_uniform_values:
      return {{"name", parameter.name}, {"type", "float"}, {"low", d.min}, {"high", d.max}, {"log", true}};
    case DistributionKind::uniform:
      return {{"name", parameter.name}, {"type", "float"}, {"low", d.min}, {"high", d.max}, {"log", false}};
    case DistributionKind::int_uniform:
      return {{"name", parameter.name}, {"type", "int"}, {"low", std::llround(d.min)}, {"high", std::llround(d.max)}};
    default: {
      nlohmann::json choices = nlohmann::json::array();
      for (const auto& value : d.values) choices.push_back(to_string(value));
      return {{"name", parameter.name}, {"type", "categorical"}, {"choices", choices}};
    }
  }
}

nlohmann::json param_json(const ParamValue& value) {
  return std::visit([](const auto& held) { return nlohmann::json(held); }, value);
}

void write_history(const std::string& path, const SearchSpace& space, const std::vector<FrozenTrial>& trials) {
  nlohmann::json document{{"parameters", nlohmann::json::array()}, {"trials", nlohmann::json::array()}};
  for (const auto& parameter : space.parameters) document["parameters"].push_back(optuna_distribution(parameter));
  for (const auto& trial : trials) {
    nlohmann::json params = nlohmann::json::object();
    for (const auto& [name, value] : trial.params) params[name] = param_json(value);
    document["trials"].push_back({{"number", trial.number}, {"params", params}, {"value", *trial.value}});
  }
  std::ofstream(path) << document.dump() << "\n";
}

// Suggestions for trials n, n+1, ... against the same n finished trials.
double milliseconds_per_suggestion(const SearchSpace& space, std::span<const FrozenTrial> history, int repeats) {
  SamplerOptions options;
  options.seed = 1;
  auto tpe = make_sampler(Method::bayes, options);
  const int first = static_cast<int>(history.size());
  tpe->sample(space, history, Goal::minimize, first);  // warm-up
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) tpe->sample(space, history, Goal::minimize, first + i);
  const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count() / repeats;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "tpe_history.json";
  const SearchSpace space = parse_study_config(kSpaceYaml, "tpe_suggest").space;
  const std::vector<FrozenTrial> history = synthetic_history(space);
  write_history(path, space, history);
  std::printf("history: %s (%d trials, 5 parameters: log float, float, 2 int, categorical)\n", path.c_str(),
              kLargestHistory);
  for (const int finished : {100, 1000}) {
    const int repeats = finished == 100 ? 200 : 50;
    const double ms = milliseconds_per_suggestion(space, std::span(history).first(finished), repeats);
    std::printf("mlptune TPE after %4d trials: %.4f ms per suggestion\n", finished, ms);
  }
  return 0;
}
