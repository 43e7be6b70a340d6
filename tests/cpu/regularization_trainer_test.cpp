// Dropout and gradient clipping in the CPU trainer: a trial with them repeats bit for bit and
// continues exactly from its state, dropout acts in training only, and clipping bounds each step.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "cpu/cpu_backend.hpp"
#include "trainer_test_support.hpp"

namespace mlptune {
namespace {

std::shared_ptr<const DataSplits> blobs() {
  return test::splits(test::blobs_dataset(300, 1), test::blobs_dataset(90, 2), test::blobs_dataset(60, 3));
}

TrialSpec regularised_spec(double dropout, double clip_norm) {
  TrialSpec spec = test::blobs_spec();
  spec.train.dropout = dropout;
  spec.train.clip_norm = clip_norm;
  return spec;
}

std::vector<float> trained_parameters(const TrialSpec& spec, const std::shared_ptr<const DataSplits>& data) {
  auto trainer = make_cpu_backend(1)->make_trainer(spec, data);
  test::train_all(*trainer);
  std::vector<float> flat;
  for (const Tensor& tensor : trainer->state().parameters)
    flat.insert(flat.end(), tensor.data.begin(), tensor.data.end());
  return flat;
}

TEST(CpuRegularisation, ADropoutTrialRepeatsBitForBitAndDiffersFromNone) {
  const auto data = blobs();
  const std::vector<float> once = trained_parameters(regularised_spec(0.3, 0.5), data);
  EXPECT_EQ(trained_parameters(regularised_spec(0.3, 0.5), data), once);
  EXPECT_NE(trained_parameters(regularised_spec(0.0, 0.5), data), once) << "dropout changed nothing";
  EXPECT_NE(trained_parameters(regularised_spec(0.3, 0.0), data), once) << "clipping changed nothing";
}

// The mask derives from the step counter, which the state carries: 2 epochs, save, load, 3 more
// equal 5 in one go.
TEST(CpuRegularisation, ADropoutTrialContinuesExactlyFromItsState) {
  const auto data = blobs();
  const TrialSpec spec = regularised_spec(0.3, 0.5);
  auto backend = make_cpu_backend(1);
  auto first = backend->make_trainer(spec, data);
  first->train_epoch();
  first->train_epoch();
  auto second = backend->make_trainer(spec, data);
  second->load_state(first->state());
  test::train_all(*second);
  std::vector<float> resumed;
  for (const Tensor& tensor : second->state().parameters)
    resumed.insert(resumed.end(), tensor.data.begin(), tensor.data.end());
  EXPECT_EQ(resumed, trained_parameters(spec, data));
}

// Evaluation applies no dropout: the trained parameters give the same outputs in a trainer whose
// spec has none.
TEST(CpuRegularisation, EvaluationAppliesNoDropout) {
  const auto data = blobs();
  auto backend = make_cpu_backend(1);
  auto dropped = backend->make_trainer(regularised_spec(0.9, 0.0), data);
  test::train_all(*dropped);
  auto plain = backend->make_trainer(regularised_spec(0.0, 0.0), data);
  plain->load_state(dropped->state());
  EXPECT_EQ(dropped->predict(data->test), plain->predict(data->test));
  EXPECT_EQ(dropped->evaluate(data->validation).loss, plain->evaluate(data->validation).loss);
}

// With SGD and no weight decay each update moves the parameters by lr · (clipped gradient), whose
// norm is at most clip_norm: after n steps they lie within n · lr · clip_norm of where they began.
TEST(CpuRegularisation, ClippingBoundsEachSgdStepByLearningRateTimesTheNorm) {
  const auto data = blobs();
  TrialSpec spec = regularised_spec(0.0, 1e-3);
  spec.train.optimizer = Optimizer::sgd;
  spec.train.learning_rate = 0.5;
  spec.train.epochs = 1;
  const auto distance = [&](const TrialSpec& trial) {
    auto trainer = make_cpu_backend(1)->make_trainer(trial, data);
    const TrialState start = trainer->state();
    test::train_all(*trainer);
    const TrialState end = trainer->state();
    double squares = 0.0;
    for (std::size_t t = 0; t < start.parameters.size(); ++t)
      for (std::size_t i = 0; i < start.parameters[t].data.size(); ++i)
        squares += std::pow(double(end.parameters[t].data[i]) - start.parameters[t].data[i], 2);
    return std::sqrt(squares);
  };
  const double steps = std::ceil(300.0 / spec.train.batch_size);
  const double clipped = distance(spec);
  EXPECT_LE(clipped, steps * 0.5 * 1e-3 * (1 + 1e-5));  // float rounding of the update: 1e-5 is ample
  EXPECT_GT(clipped, 0.0);
  spec.train.clip_norm = 0.0;
  EXPECT_GT(distance(spec), 10 * steps * 0.5 * 1e-3) << "without clipping the steps are far longer";
}

}  // namespace
}  // namespace mlptune
