// CUDA benchmark: training samples/s of the 784-256-256-10 MLP on MNIST at batch 128 with Adam, for
// one trial alone and for 1, 4, 16 and 64 trials at once (one thread and stream each), in fp32 or
// (--precision tf32) with TF32 matrix products. Prints a table and one JSON object per measurement
// (scripts/gpu-check reads those).
//   bench_cuda_throughput [--precision fp32|tf32] [TRIALS...]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "mlptune/backend.hpp"
#include "mlptune/data.hpp"
#include "mlptune/error.hpp"
#include "mlptune/train_config.hpp"

namespace {

using mlptune::Backend;
using mlptune::DataSplits;
using mlptune::Trainer;
using mlptune::TrialSpec;

TrialSpec mnist_spec(int trial_number, mlptune::Precision precision) {
  TrialSpec spec;
  spec.model.input_width = 784;
  spec.model.hidden = {256, 256};
  spec.model.output_width = 10;
  spec.train.optimizer = mlptune::Optimizer::adam;
  spec.train.learning_rate = 1e-3;
  spec.train.batch_size = 128;
  spec.train.epochs = 1000;  // never completes during the benchmark
  spec.train.seed = std::uint64_t(trial_number);
  spec.train.precision = precision;
  spec.trial_number = trial_number;
  return spec;
}

// Aggregate training samples/s of `trials` trainers, each on its own thread, over one timed epoch
// after one warm-up epoch (which captures the step graphs). Validation is part of each epoch, as
// in a real run; the rate counts training rows only.
double aggregate_samples_per_second(Backend& backend, const std::shared_ptr<const DataSplits>& data, int trials,
                                    mlptune::Precision precision) {
  std::vector<std::unique_ptr<Trainer>> trainers;
  for (int t = 0; t < trials; ++t) trainers.push_back(backend.make_trainer(mnist_spec(t, precision), data));
  const auto run_epoch_on_all = [&] {
    std::vector<std::thread> threads;
    std::vector<std::exception_ptr> failures(trainers.size());
    for (std::size_t t = 0; t < trainers.size(); ++t)
      threads.emplace_back([&, t] {
        try {
          trainers[t]->train_epoch();
        } catch (...) {
          failures[t] = std::current_exception();
        }
      });
    for (std::thread& thread : threads) thread.join();
    for (const std::exception_ptr& failure : failures)
      if (failure) std::rethrow_exception(failure);
  };
  run_epoch_on_all();
  const auto start = std::chrono::steady_clock::now();
  run_epoch_on_all();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return double(data->train.rows) * trials / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  // A line at a time even into a pipe: rows measured before a time limit stops the run still arrive.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
    std::vector<int> counts;
    mlptune::Precision precision = mlptune::Precision::fp32;
    for (int i = 1; i < argc; ++i) {
      if (std::string(argv[i]) == "--precision" && i + 1 < argc)
        precision = mlptune::parse_precision(argv[++i]);
      else
        counts.push_back(std::atoi(argv[i]));
    }
    if (counts.empty()) counts = {1, 4, 16, 64};
    const std::string precision_name(mlptune::to_string(precision));
    mlptune::BackendOptions options;
    options.kind = mlptune::BackendKind::cuda;
    const std::unique_ptr<Backend> backend = mlptune::make_backend(options);
    mlptune::SplitOptions split;
    split.scaling = mlptune::default_scaling("mnist");
    const auto data = std::make_shared<const DataSplits>(mlptune::load_bundled("mnist", split));

    // One trial alone: its own report's training rate, best of three epochs after the warm-up.
    const auto trainer = backend->make_trainer(mnist_spec(0, precision), data);
    trainer->train_epoch();
    double one_trial = 0.0;
    for (int e = 0; e < 3; ++e) one_trial = std::max(one_trial, trainer->train_epoch().samples_per_second);

    std::printf("device: %s, %s\n", backend->name().c_str(), precision_name.c_str());
    std::printf("%-22s %18s %10s\n", "trials at once", "samples/s", "vs one");
    std::printf("%-22s %18.0f %9.2fx\n", "1 (report)", one_trial, 1.0);
    std::printf(
        "{\"benchmark\": \"cuda_one_trial\", \"precision\": \"%s\", \"trials\": 1, \"samples_per_second\": %.1f}\n",
        precision_name.c_str(), one_trial);
    for (const int trials : counts) {
      const double rate = aggregate_samples_per_second(*backend, data, trials, precision);
      std::printf("%-22d %18.0f %9.2fx\n", trials, rate, rate / one_trial);
      std::printf(
          "{\"benchmark\": \"cuda_concurrent\", \"precision\": \"%s\", \"trials\": %d, \"samples_per_second\": %.1f}\n",
          precision_name.c_str(), trials, rate);
    }
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_cuda_throughput: %s\n", error.what());
    return 1;
  }
}
