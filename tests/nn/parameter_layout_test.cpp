// ParameterLayout: the flat order every backend stores parameters in, its tensor names and shapes,
// and the checks that refuse a trial state of another model; to_metrics from a pass's sums.
#include "nn/parameter_layout.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "mlptune/error.hpp"
#include "nn/trainer_core.hpp"
#include "thrown_message.hpp"

namespace mlptune {
namespace {

const ModelSpec kModel{5, {7}, 3, Activation::relu, Loss::softmax_cross_entropy, Init::he};

TEST(ParameterLayout, TensorsLieBackToBackInLayerOrder) {
  const ParameterLayout layout(kModel);
  ASSERT_EQ(layout.layer_count(), 2u);
  const std::vector<TensorSlot>& tensors = layout.tensors();
  ASSERT_EQ(tensors.size(), 4u);
  EXPECT_EQ(layout.weight(0).name, "layers.0.weight");
  EXPECT_EQ(layout.weight(0).shape, (std::vector<std::int64_t>{7, 5}));
  EXPECT_EQ(layout.bias(0).name, "layers.0.bias");
  EXPECT_EQ(layout.bias(0).offset, 35u);
  EXPECT_EQ(layout.weight(1).name, "layers.1.weight");
  EXPECT_EQ(layout.weight(1).offset, 42u);
  EXPECT_EQ(layout.weight(1).shape, (std::vector<std::int64_t>{3, 7}));
  EXPECT_EQ(layout.bias(1).offset, 63u);
  EXPECT_EQ(layout.bias(1).count, 3u);
  EXPECT_EQ(layout.parameter_count(), std::size_t(kModel.parameter_count()));
}

TEST(ParameterLayout, ToTensorsAndToFlatAreInverses) {
  const ParameterLayout layout(kModel);
  std::vector<float> flat(layout.parameter_count());
  std::iota(flat.begin(), flat.end(), 0.0f);
  const std::vector<Tensor> tensors = layout.to_tensors(flat);
  ASSERT_EQ(tensors.size(), 4u);
  EXPECT_EQ(tensors[1].name, "layers.0.bias");
  EXPECT_EQ(tensors[1].data, (std::vector<float>{35, 36, 37, 38, 39, 40, 41}));
  EXPECT_EQ(layout.to_flat(tensors, "parameters"), flat);
}

TEST(ParameterLayout, TensorsOfAnotherModelAreRefusedByName) {
  const ParameterLayout layout(kModel);
  std::vector<Tensor> tensors = layout.to_tensors(std::vector<float>(layout.parameter_count(), 1.0f));
  std::vector<Tensor> wider = tensors;
  wider[2].shape = {3, 8};
  wider[2].data.resize(24, 0.0f);
  EXPECT_EQ(testing::thrown_message<ConfigError>([&] { layout.check(wider, "first_moment"); }),
            "trial state: first_moment tensor 2 is 'layers.1.weight' [3, 8] with 24 values; expected "
            "'layers.1.weight' [3, 7]");
  tensors.pop_back();
  EXPECT_EQ(testing::thrown_message<ConfigError>([&] { layout.to_flat(tensors, "parameters"); }),
            "trial state: parameters has 3 tensors; the model has 4");
}

TEST(OptimizerSlots, CountPerOptimizer) {
  EXPECT_EQ(optimizer_slot_count(Optimizer::sgd), 0);
  EXPECT_EQ(optimizer_slot_count(Optimizer::momentum), 1);
  EXPECT_EQ(optimizer_slot_count(Optimizer::nesterov), 1);
  EXPECT_EQ(optimizer_slot_count(Optimizer::adam), 2);
  EXPECT_EQ(optimizer_slot_count(Optimizer::adamw), 2);
}

TEST(ToMetrics, LossAndAccuracyOrRmseFromTheSums) {
  MetricSums sums;
  sums.loss_sum = 6.0;
  sums.correct = 3;
  sums.samples = 4;
  const Metrics classification = to_metrics(sums, Task::classification, 1.0);
  EXPECT_EQ(classification.samples, 4);
  EXPECT_EQ(classification.loss, 1.5);
  EXPECT_EQ(classification.accuracy, 0.75);
  EXPECT_TRUE(std::isnan(classification.rmse));
  const Metrics regression = to_metrics(sums, Task::regression, 2.0);
  EXPECT_EQ(regression.rmse, 2.0 * std::sqrt(1.5));  // in the file's units
  EXPECT_TRUE(std::isnan(regression.accuracy));
  const Metrics empty = to_metrics(MetricSums{}, Task::classification, 1.0);
  EXPECT_EQ(empty.samples, 0);
  EXPECT_TRUE(std::isnan(empty.loss));
}

}  // namespace
}  // namespace mlptune
