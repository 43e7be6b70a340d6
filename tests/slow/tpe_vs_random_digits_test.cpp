// TPE against random search on the bundled digits set with the CPU backend: at the same budget of
// 30 trials, TPE's best validation loss, averaged over twelve study seeds, is lower.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "mlptune/tune/study.hpp"

namespace mlptune::tune {
namespace {

// Small MLPs and few epochs keep a study to seconds; the learning rate spans four decades so
// the sampler has something to learn. One trial at a time: with two, which trials TPE sees when it
// samples the next depends on which of the running ones ends first, so the result would too.
std::string digits_config(const std::string& method, int seed, const std::filesystem::path& storage) {
  return "name: digits-" + method + "-" + std::to_string(seed) +
         "\n"
         "method: " +
         method +
         "\n"
         "metric: {name: validation_loss, goal: minimize}\n"
         "run_cap: 30\n"
         "parameters:\n"
         "  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0}\n"
         "  width: {min: 8, max: 64}\n"
         "  depth: {value: 1}\n"
         "  optimizer: {value: sgd}\n"
         "  epochs: {value: 3}\n"
         "  batch_size: {value: 64}\n"
         "mlptune:\n"
         "  dataset: digits\n"
         "  backend: cpu\n"
         "  concurrency: 1\n"
         "  seed: " +
         std::to_string(seed) +
         "\n"
         "  storage: " +
         storage.string() + "\n";
}

double best_validation_loss(const std::string& method, int seed, const std::filesystem::path& folder) {
  const auto storage = folder / (method + "-" + std::to_string(seed) + ".db");
  const std::string yaml = digits_config(method, seed, storage);
  const StudyConfig config = parse_study_config(yaml, "tpe_vs_random.yaml");
  StudyOptions options;
  options.config_yaml = yaml;
  const StudyResult result = run_study(config, options);
  EXPECT_EQ(result.progress.done(), 30);
  EXPECT_TRUE(result.best.has_value());
  return result.best ? *result.best->value : 1e9;
}

TEST(TpeVsRandomDigits, TpeFindsALowerValidationLossAtTheSameBudget) {
  const auto folder = std::filesystem::temp_directory_path() / ("mlptune-tpe-vs-random-" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  double tpe_total = 0.0, random_total = 0.0;
  // Twelve seeds: with four, the average turned on one or two seeds whose best came from the random
  // start-up trials (then both methods tie) or from a lucky random draw.
  const std::vector<int> seeds = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  for (int seed : seeds) {
    const double tpe = best_validation_loss("bayes", seed, folder);
    const double random = best_validation_loss("random", seed, folder);
    std::printf("seed %d: best validation loss tpe %.4f random %.4f\n", seed, tpe, random);
    tpe_total += tpe;
    random_total += random;
  }
  std::filesystem::remove_all(folder);
  EXPECT_LT(tpe_total / double(seeds.size()), random_total / double(seeds.size()));
}

}  // namespace
}  // namespace mlptune::tune
