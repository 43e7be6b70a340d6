// ModelSpec: layer shapes, parameter counts, validation messages and enum names.
#include "mlptune/model.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "mlptune/error.hpp"

namespace mlptune {
namespace {

ModelSpec mlp(int input, std::vector<int> hidden, int output) {
  ModelSpec model;
  model.input_width = input;
  model.hidden = std::move(hidden);
  model.output_width = output;
  return model;
}

std::string config_error_of(const ModelSpec& model) {
  try {
    model.validate();
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(ModelSpec, OneLayerOfTenToTwentyHas200WeightsAnd20Biases) {
  const ModelSpec model = mlp(10, {}, 20);
  ASSERT_EQ(model.layers().size(), 1u);
  EXPECT_EQ(model.layers()[0].weight_count(), 200);
  EXPECT_EQ(model.layers()[0].bias_count(), 20);
  EXPECT_EQ(model.parameter_count(), 220);
}

TEST(ModelSpec, MnistMlpHas269322Parameters) {
  const ModelSpec model = mlp(784, {256, 256}, 10);
  // 784·256 + 256 + 256·256 + 256 + 256·10 + 10
  EXPECT_EQ(model.parameter_count(), 269322);
  const auto layers = model.layers();
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0].in, 784);
  EXPECT_EQ(layers[0].out, 256);
  EXPECT_EQ(layers[1].in, 256);
  EXPECT_EQ(layers[2].in, 256);
  EXPECT_EQ(layers[2].out, 10);
}

TEST(ModelSpec, ValidModelsPass) {
  EXPECT_NO_THROW(mlp(784, {256, 256}, 10).validate());
  ModelSpec regression = mlp(1, {}, 1);
  regression.loss = Loss::mse;
  EXPECT_NO_THROW(regression.validate());
}

TEST(ModelSpec, ValidationNamesTheBadField) {
  EXPECT_EQ(config_error_of(mlp(0, {8}, 3)), "model input width must be >= 1 (got 0)");
  EXPECT_EQ(config_error_of(mlp(4, {8, 0}, 3)), "--hidden: width of hidden layer 1 must be >= 1 (got 0)");
  EXPECT_EQ(config_error_of(mlp(4, {8}, 1)), "model output width (softmax_cross_entropy) must be >= 2 (got 1)");
  ModelSpec regression = mlp(4, {}, 0);
  regression.loss = Loss::mse;
  EXPECT_EQ(config_error_of(regression), "model output width (mse) must be >= 1 (got 0)");
}

// Five layers of 2^31 - 1 units: each product of two widths is near 2^62, so their sum passes int64.
// Wrapped around, it could look small; saturated, it is refused.
TEST(ModelSpec, AParameterCountBeyondInt64IsRefusedNotWrapped) {
  constexpr int kWidest = 2147483647;
  const ModelSpec model = mlp(kWidest, {kWidest, kWidest, kWidest, kWidest}, 2);
  EXPECT_EQ(model.parameter_count(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(config_error_of(model),
            "the model has more than 9223372036854775807 parameters; at most 2147483647 are supported: use narrower "
            "--hidden layers");
}

TEST(ModelSpec, MoreHiddenLayersThanTheLimitAreRefusedWithTheLimit) {
  EXPECT_EQ(config_error_of(mlp(4, std::vector<int>(100001, 1), 3)),
            "--hidden: 100001 hidden layers; at most 100000 are supported");
  EXPECT_NO_THROW(mlp(4, std::vector<int>(40000, 8), 3).validate());
}

TEST(ModelEnums, NamesRoundTrip) {
  for (Activation activation :
       {Activation::relu, Activation::tanh, Activation::sigmoid, Activation::gelu, Activation::identity})
    EXPECT_EQ(parse_activation(to_string(activation)), activation);
  for (Loss loss : {Loss::softmax_cross_entropy, Loss::mse}) EXPECT_EQ(parse_loss(to_string(loss)), loss);
  for (Init init : {Init::he, Init::xavier}) EXPECT_EQ(parse_init(to_string(init)), init);
  EXPECT_EQ(to_string(Activation::gelu), "gelu");
  EXPECT_EQ(to_string(Loss::mse), "mse");
  EXPECT_EQ(to_string(Init::xavier), "xavier");
}

TEST(ModelEnums, UnknownNamesListTheAcceptedOnes) {
  try {
    parse_activation("swish");
    FAIL() << "parse_activation accepted 'swish'";
  } catch (const ConfigError& error) {
    EXPECT_STREQ(error.what(), "unknown activation 'swish': use relu, tanh, sigmoid, gelu or identity");
  }
  EXPECT_THROW(parse_loss("hinge"), ConfigError);
  EXPECT_THROW(parse_init("orthogonal"), ConfigError);
  EXPECT_THROW(parse_activation("ReLU"), ConfigError);  // names are case-sensitive
}

}  // namespace
}  // namespace mlptune
