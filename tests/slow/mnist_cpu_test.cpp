// MNIST on the CPU backend: a 784-256-10 ReLU MLP with Adam reaches 97% test accuracy in 5 epochs.
#include <gtest/gtest.h>

#include <cstdio>

#include "cpu/cpu_backend.hpp"
#include "mlptune/data.hpp"

namespace mlptune {
namespace {

TEST(MnistCpu, TwoLayerMlpWithAdamReaches97PercentInFiveEpochs) {
  SplitOptions split;
  split.scaling = default_scaling("mnist");
  auto data = std::make_shared<const DataSplits>(load_bundled("mnist", split));

  TrialSpec spec;
  spec.model = {784, {256}, 10, Activation::relu, Loss::softmax_cross_entropy, Init::he};
  spec.train.optimizer = Optimizer::adam;
  spec.train.learning_rate = 1e-3;
  spec.train.batch_size = 128;
  spec.train.epochs = 5;

  auto trainer = make_cpu_backend(0)->make_trainer(spec, data);
  EpochReport report;
  do {
    report = trainer->train_epoch();
    std::printf("epoch %d: train loss %.4f, validation accuracy %.4f, %.0f samples/s\n", report.epoch,
                report.train_loss, report.validation.accuracy, report.samples_per_second);
  } while (report.status == TrialStatus::running);
  ASSERT_EQ(report.status, TrialStatus::completed);

  const Metrics test = trainer->evaluate(data->test);
  std::printf("MNIST test accuracy %.4f on %lld samples\n", test.accuracy, static_cast<long long>(test.samples));
  // LeCun's table puts 2-layer MLPs of 300-800 hidden units at 95.3-98.4%. Here seeds 0-2 give
  // 97.5-97.7% after 5 epochs (3 epochs give 96.9-97.2%, too close to the bar); 97% fails only
  // when training is broken.
  EXPECT_GE(test.accuracy, 0.97);
  EXPECT_EQ(test.samples, 10000);
}

}  // namespace
}  // namespace mlptune
