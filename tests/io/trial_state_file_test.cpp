// Tests of trial states saved as safetensors: exact round trips with and without optimizer state,
// the names and metadata a PyTorch user sees, and files that do not match their model.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "mlptune/error.hpp"
#include "mlptune/safetensors.hpp"
#include "temp_folder.hpp"
#include "thrown_message.hpp"

namespace mlptune {
namespace {

using testing::TempFolder;

ModelSpec sample_model() {
  ModelSpec model;
  model.input_width = 5;
  model.hidden = {7, 3};
  model.output_width = 4;
  model.activation = Activation::tanh;
  model.loss = Loss::mse;
  model.init = Init::xavier;
  return model;
}

Tensor random_tensor(const std::string& name, std::vector<std::int64_t> shape, std::mt19937& generator) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::int64_t count = 1;
  for (std::int64_t dimension : shape) count *= dimension;
  Tensor tensor{name, std::move(shape), std::vector<float>(std::size_t(count))};
  for (float& value : tensor.data) value = normal(generator);
  return tensor;
}

// Parameters shaped as torch.nn.Linear layers (weight (out, in), bias (out)); Adam-like moments.
TrialState sample_state() {
  std::mt19937 generator(7);
  TrialState state;
  state.model = sample_model();
  std::vector<int> widths = {5, 7, 3, 4};
  for (std::size_t layer = 0; layer + 1 < widths.size(); ++layer) {
    std::string prefix = "layers." + std::to_string(layer);
    state.parameters.push_back(random_tensor(prefix + ".weight", {widths[layer + 1], widths[layer]}, generator));
    state.parameters.push_back(random_tensor(prefix + ".bias", {widths[layer + 1]}, generator));
  }
  for (const Tensor& parameter : state.parameters) {
    state.first_moment.push_back(random_tensor(parameter.name, parameter.shape, generator));
    state.second_moment.push_back(random_tensor(parameter.name, parameter.shape, generator));
  }
  state.step = 123456789012;
  state.epoch = 17;
  state.best_validation_loss = 0.1 + 1e-17 * 3;  // needs all 17 digits to come back exactly
  state.epochs_since_best = 2;
  return state;
}

void expect_same_tensors(const std::vector<Tensor>& actual, const std::vector<Tensor>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(actual[i].name, expected[i].name);
    EXPECT_EQ(actual[i].shape, expected[i].shape);
    EXPECT_EQ(actual[i].data, expected[i].data) << expected[i].name;
  }
}

void expect_same_model(const ModelSpec& actual, const ModelSpec& expected) {
  EXPECT_EQ(actual.input_width, expected.input_width);
  EXPECT_EQ(actual.hidden, expected.hidden);
  EXPECT_EQ(actual.output_width, expected.output_width);
  EXPECT_EQ(actual.activation, expected.activation);
  EXPECT_EQ(actual.loss, expected.loss);
  EXPECT_EQ(actual.init, expected.init);
}

void expect_same_counters(const TrialState& actual, const TrialState& expected) {
  EXPECT_EQ(actual.step, expected.step);
  EXPECT_EQ(actual.epoch, expected.epoch);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(actual.best_validation_loss),
            std::bit_cast<std::uint64_t>(expected.best_validation_loss));
  EXPECT_EQ(actual.epochs_since_best, expected.epochs_since_best);
}

// The message of the DataError that `action` throws, or a failure.
template <class Action>
std::string data_error_message(Action&& action) {
  return testing::thrown_message<DataError>(std::forward<Action>(action));
}

TEST(TrialStateFile, RoundTripsExactlyWithOptimizerState) {
  TempFolder dir;
  TrialState state = sample_state();
  save_trial_state(dir.file("trial.safetensors"), state, true);
  TrialState loaded = load_trial_state(dir.file("trial.safetensors"));
  expect_same_model(loaded.model, state.model);
  expect_same_tensors(loaded.parameters, state.parameters);
  expect_same_tensors(loaded.first_moment, state.first_moment);
  expect_same_tensors(loaded.second_moment, state.second_moment);
  expect_same_counters(loaded, state);
}

TEST(TrialStateFile, RoundTripsParametersWithoutOptimizerState) {
  TempFolder dir;
  TrialState state = sample_state();
  save_trial_state(dir.file("weights.safetensors"), state, false);
  TrialState loaded = load_trial_state(dir.file("weights.safetensors"));
  expect_same_model(loaded.model, state.model);
  expect_same_tensors(loaded.parameters, state.parameters);
  EXPECT_TRUE(loaded.first_moment.empty());
  EXPECT_TRUE(loaded.second_moment.empty());
  expect_same_counters(loaded, state);
}

TEST(TrialStateFile, MomentumStateHasOnlyTheFirstSlot) {
  TempFolder dir;
  TrialState state = sample_state();
  state.second_moment.clear();
  save_trial_state(dir.file("momentum.safetensors"), state, true);
  TrialState loaded = load_trial_state(dir.file("momentum.safetensors"));
  expect_same_tensors(loaded.first_moment, state.first_moment);
  EXPECT_TRUE(loaded.second_moment.empty());
}

TEST(TrialStateFile, UnsetBestLossStaysInfinite) {
  TempFolder dir;
  TrialState state = sample_state();
  state.best_validation_loss = std::numeric_limits<double>::infinity();
  save_trial_state(dir.file("fresh.safetensors"), state, false);
  EXPECT_EQ(load_trial_state(dir.file("fresh.safetensors")).best_validation_loss,
            std::numeric_limits<double>::infinity());
}

TEST(TrialStateFile, FileHoldsTorchNamesAndReadableMetadata) {
  TempFolder dir;
  save_trial_state(dir.file("trial.safetensors"), sample_state(), true, {{"hyperparameters.lr", "0.001"}});
  SafetensorsFile file = read_safetensors(dir.file("trial.safetensors"));
  std::vector<std::string> names;
  for (const Tensor& tensor : file.tensors) names.push_back(tensor.name);
  ASSERT_EQ(names.size(), 18u);
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 6),
            (std::vector<std::string>{"layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
                                      "layers.2.weight", "layers.2.bias"}));
  EXPECT_EQ(names[6], "optimizer.first.layers.0.weight");
  EXPECT_EQ(names[12], "optimizer.second.layers.0.weight");
  EXPECT_EQ(file.metadata.at("mlptune.model"),
            R"({"input_width":5,"hidden":[7,3],"output_width":4,"activation":"tanh","loss":"mse","init":"xavier"})");
  EXPECT_EQ(file.metadata.at("mlptune.step"), "123456789012");
  EXPECT_EQ(file.metadata.at("mlptune.epoch"), "17");
  EXPECT_EQ(file.metadata.at("mlptune.epochs_since_best"), "2");
  EXPECT_EQ(file.metadata.at("hyperparameters.lr"), "0.001");
}

TEST(TrialStateFile, ExtraMetadataCannotOverwriteTheCounters) {
  TempFolder dir;
  std::string message = data_error_message([&] {
    save_trial_state(dir.file("t.safetensors"), sample_state(), false, {{"mlptune.epoch", "99"}});
  });
  EXPECT_NE(message.find("extra metadata 'mlptune.epoch' would overwrite"), std::string::npos) << message;
}

// ---- Files that do not match the model in their metadata ----------------------------------------

// A trial file whose tensors are changed by `edit` before writing.
template <class Edit>
std::string load_error_after(const TempFolder& dir, Edit&& edit) {
  std::filesystem::path path = dir.file("edited.safetensors");
  save_trial_state(path, sample_state(), true);
  SafetensorsFile file = read_safetensors(path);
  edit(file);
  write_safetensors(path, file.tensors, file.metadata);
  std::string message = data_error_message([&] { load_trial_state(path); });
  EXPECT_EQ(message.rfind(path.string() + ": ", 0), 0u) << "message must start with the path: " << message;
  return message;
}

TEST(TrialStateFile, RejectsTransposedWeight) {
  TempFolder dir;
  std::string message = load_error_after(dir, [](SafetensorsFile& file) { file.tensors[0].shape = {5, 7}; });
  EXPECT_NE(message.find("tensor 'layers.0.weight' has shape [5, 7] but the model needs [7, 5]"), std::string::npos)
      << message;
}

TEST(TrialStateFile, RejectsMissingParameter) {
  TempFolder dir;
  std::string message =
      load_error_after(dir, [](SafetensorsFile& file) { file.tensors.erase(file.tensors.begin() + 3); });
  EXPECT_NE(message.find("missing tensor 'layers.1.bias'"), std::string::npos) << message;
}

TEST(TrialStateFile, RejectsPartialOptimizerSlot) {
  TempFolder dir;
  std::string message =
      load_error_after(dir, [](SafetensorsFile& file) { file.tensors.erase(file.tensors.begin() + 7); });
  EXPECT_NE(message.find("missing tensor 'optimizer.first.layers.0.bias'"), std::string::npos) << message;
}

TEST(TrialStateFile, RejectsTensorOutsideTheModel) {
  TempFolder dir;
  std::string message = load_error_after(dir, [](SafetensorsFile& file) {
    file.tensors.push_back({"layers.3.weight", {1}, {0.5f}});
  });
  EXPECT_NE(message.find("tensor 'layers.3.weight' is not a parameter or optimizer slot"), std::string::npos)
      << message;
}

TEST(TrialStateFile, RejectsUnknownActivation) {
  TempFolder dir;
  std::string message = load_error_after(dir, [](SafetensorsFile& file) {
    std::string& model = file.metadata.at("mlptune.model");
    model.replace(model.find("tanh"), 4, "swish");
  });
  EXPECT_NE(message.find("mlptune.model metadata: unknown activation 'swish'"), std::string::npos) << message;
}

TEST(TrialStateFile, RejectsBadCounter) {
  TempFolder dir;
  std::string message = load_error_after(dir, [](SafetensorsFile& file) { file.metadata.at("mlptune.step") = "-4"; });
  EXPECT_NE(message.find("metadata 'mlptune.step' is '-4', not a non-negative integer"), std::string::npos) << message;
}

TEST(TrialStateFile, RejectsFileWithoutModelMetadata) {
  TempFolder dir;
  std::string message = load_error_after(dir, [](SafetensorsFile& file) { file.metadata.erase("mlptune.model"); });
  EXPECT_NE(message.find("not an mlptune model: it has no 'mlptune.model' metadata"), std::string::npos) << message;
}

}  // namespace
}  // namespace mlptune
