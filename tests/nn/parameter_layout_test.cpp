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

// Aligned to 64 floats (256 bytes, the CUDA backend's): every tensor starts at a multiple of 64,
// in order and apart; to_flat writes zeros between them and to_tensors reads only the tensors.
TEST(ParameterLayout, AlignedTensorsStartAtMultiplesOfTheAlignment) {
  const ModelSpec odd{37, {33, 1}, 5, Activation::relu, Loss::softmax_cross_entropy, Init::he};
  const ParameterLayout packed(odd);
  const ParameterLayout layout(odd, 64);
  ASSERT_EQ(layout.tensors().size(), 6u);
  EXPECT_EQ(layout.alignment(), 64u);
  EXPECT_EQ(layout.parameter_count(), packed.parameter_count());
  EXPECT_EQ(layout.bias(0).offset, 1280u);    // 33·37 = 1221 weights, rounded up to 20·64
  EXPECT_EQ(layout.weight(1).offset, 1344u);  // 33 biases, rounded up to 64
  std::size_t end = 0;
  for (const TensorSlot& tensor : layout.tensors()) {
    SCOPED_TRACE(tensor.name);
    EXPECT_EQ(tensor.offset % 64, 0u);
    EXPECT_GE(tensor.offset, end);  // in order, no overlap
    end = tensor.offset + tensor.count;
  }
  EXPECT_EQ(layout.flat_size(), end);
  EXPECT_GT(layout.flat_size(), layout.parameter_count());

  std::vector<float> values(packed.flat_size());
  std::iota(values.begin(), values.end(), 1.0f);  // no zeros among the parameters
  const std::vector<Tensor> tensors = packed.to_tensors(values);
  const std::vector<float> flat = layout.to_flat(tensors, "parameters");
  ASSERT_EQ(flat.size(), layout.flat_size());
  std::size_t nonzero = 0;
  for (const float value : flat) nonzero += value != 0.0f;
  EXPECT_EQ(nonzero, layout.parameter_count());  // the padding is zero
  const std::vector<Tensor> back = layout.to_tensors(flat);
  for (std::size_t t = 0; t < tensors.size(); ++t) EXPECT_EQ(back[t].data, tensors[t].data) << tensors[t].name;
  EXPECT_THROW(ParameterLayout(odd, 0), ConfigError);
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
