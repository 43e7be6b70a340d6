// The trial arena's plan, on the host: every buffer 256-byte aligned, inside the arena and apart
// from every other, and so every layer's weight and bias inside the flat parameter and gradient
// arrays; odd widths (1, 31, 33, 37, 509) so that no size happens to be a multiple of 64.
#include "cuda/trial_arena.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "mlptune/error.hpp"

namespace mlptune::cuda {
namespace {

ArenaShape shape_of(const ModelSpec& model, int optimizer_slots, std::size_t batch, bool clip, bool shuffle) {
  ArenaShape shape;
  shape.layers = model.layers();
  shape.input_width = model.input_width;
  shape.output_width = model.output_width;
  shape.optimizer_slots = optimizer_slots;
  shape.train_rows = 1571;
  shape.train_batch = batch;
  shape.rows_capacity = std::max<std::size_t>(batch, 1024);
  shape.steps_per_epoch = (shape.train_rows + batch - 1) / batch;
  shape.gradient_partials = clip ? 256 : 0;
  shape.shuffle_workspace_bytes = shuffle ? 40961 : 0;
  return shape;
}

std::uintptr_t address(const void* pointer) {
  return reinterpret_cast<std::uintptr_t>(pointer);
}

struct Case {
  const char* name;  // the test's name
  ModelSpec model;
  int optimizer_slots;
  std::size_t batch;
  bool clip;
  bool shuffle;
};

void PrintTo(const Case& c, std::ostream* out) {
  *out << c.name;
}

class TrialArenaTest : public ::testing::TestWithParam<Case> {};

TEST_P(TrialArenaTest, EveryViewIsAlignedInsideTheArenaAndApart) {
  const Case c = GetParam();
  const ArenaShape shape = shape_of(c.model, c.optimizer_slots, c.batch, c.clip, c.shuffle);
  const ParameterLayout parameters(c.model, kParameterAlignment);
  ArenaPlan measure;
  const ArenaViews unbound = lay_out_arena(shape, parameters, measure);
  EXPECT_TRUE(unbound.parameters.empty());  // measuring binds nothing
  EXPECT_EQ(unbound.x, nullptr);
  ASSERT_GT(measure.bytes(), 0u);
  ASSERT_EQ(measure.bytes() % kArenaAlignment, 0u);

  // Bound over a real (host) block at a 256-byte boundary, as cudaMallocFromPoolAsync returns.
  const std::unique_ptr<unsigned char, decltype(&std::free)> block(
      static_cast<unsigned char*>(std::aligned_alloc(kArenaAlignment, measure.bytes())), &std::free);
  ASSERT_NE(block, nullptr);
  ArenaPlan bind(block.get());
  const ArenaViews views = lay_out_arena(shape, parameters, bind);
  EXPECT_EQ(bind.bytes(), measure.bytes());

  // Regions: aligned, in order, apart, inside.
  const std::vector<ArenaRegion>& regions = bind.regions();
  ASSERT_EQ(regions.size(), measure.regions().size());
  std::size_t end = 0;
  for (std::size_t r = 0; r < regions.size(); ++r) {
    SCOPED_TRACE(regions[r].name);
    EXPECT_EQ(regions[r].offset, measure.regions()[r].offset);
    EXPECT_EQ(regions[r].offset % kArenaAlignment, 0u);
    EXPECT_GE(regions[r].offset, end);
    end = regions[r].offset + regions[r].bytes;
    EXPECT_LE(end, bind.bytes());
  }

  // Every pointer the trainer uses: at a 256-byte boundary (within the trial record: at its field).
  const auto aligned = [&](const void* pointer, const std::string& name) {
    EXPECT_EQ(address(pointer) % kArenaAlignment, 0u) << name;
    EXPECT_GE(address(pointer), address(block.get())) << name;
    EXPECT_LT(address(pointer), address(block.get()) + bind.bytes()) << name;
  };
  aligned(views.parameters.data(), "parameters");
  aligned(views.gradients.data(), "gradients");
  aligned(views.x, "x");
  aligned(views.grad_a, "grad_a");
  aligned(views.grad_b, "grad_b");
  aligned(views.labels, "labels");
  aligned(views.targets, "targets");
  aligned(views.sample_loss, "sample_loss");
  aligned(views.correct, "correct");
  aligned(views.trial, "trial");
  aligned(views.evaluation, "evaluation");
  aligned(views.learning_rates, "learning_rates");
  aligned(views.order, "order");
  if (c.optimizer_slots >= 1) aligned(views.first.data(), "first_moment");
  if (c.optimizer_slots >= 2) aligned(views.second.data(), "second_moment");
  EXPECT_EQ(views.first.empty(), c.optimizer_slots < 1);
  EXPECT_EQ(views.second.empty(), c.optimizer_slots < 2);
  EXPECT_EQ(views.gradient_partials != nullptr, c.clip);
  EXPECT_EQ(views.shuffle_workspace.empty(), !c.shuffle);
  if (c.clip) aligned(views.gradient_partials, "gradient_partials");
  if (c.shuffle) aligned(views.shuffle_workspace.data(), "shuffle_workspace");
  EXPECT_EQ(views.parameters.size(), parameters.flat_size());
  EXPECT_EQ(address(views.trial_nonfinite), address(&views.trial->train.nonfinite));
  EXPECT_EQ(address(views.trial_step), address(&views.trial->step));

  // Each layer's tensors: aligned, inside their flat array, and apart from each other.
  ASSERT_EQ(views.layers.size(), shape.layers.size());
  const auto inside = [](std::span<float> part, std::span<float> whole, const std::string& name) {
    EXPECT_GE(address(part.data()), address(whole.data())) << name;
    EXPECT_LE(address(part.data() + part.size()), address(whole.data() + whole.size())) << name;
  };
  std::vector<std::span<float>> tensors;
  for (std::size_t l = 0; l < views.layers.size(); ++l) {
    const LayerViews& layer = views.layers[l];
    const std::string name = "layers." + std::to_string(l);
    EXPECT_EQ(layer.weight.size(), std::size_t(shape.layers[l].weight_count())) << name;
    EXPECT_EQ(layer.bias.size(), std::size_t(shape.layers[l].out)) << name;
    for (const auto& [view, flat, what] :
         {std::tuple{layer.weight, views.parameters, ".weight"}, std::tuple{layer.bias, views.parameters, ".bias"},
          std::tuple{layer.weight_gradient, views.gradients, ".weight gradient"},
          std::tuple{layer.bias_gradient, views.gradients, ".bias gradient"}}) {
      aligned(view.data(), name + what);
      inside(view, flat, name + what);
      tensors.push_back(view);
    }
    aligned(layer.pre, name + ".pre");
    EXPECT_EQ(layer.out == nullptr, l + 1 == views.layers.size()) << name;  // the output layer has none
    if (layer.out != nullptr) aligned(layer.out, name + ".out");
  }
  std::sort(tensors.begin(), tensors.end(),
            [](std::span<float> a, std::span<float> b) { return address(a.data()) < address(b.data()); });
  for (std::size_t t = 1; t < tensors.size(); ++t)
    EXPECT_LE(address(tensors[t - 1].data() + tensors[t - 1].size()), address(tensors[t].data())) << "tensor " << t;
}

const ModelSpec kOdd{37, {33, 1, 509}, 5, Activation::relu, Loss::softmax_cross_entropy, Init::he};
const ModelSpec kLinear{31, {}, 1, Activation::identity, Loss::mse, Init::xavier};

INSTANTIATE_TEST_SUITE_P(Shapes, TrialArenaTest,
                         ::testing::Values(Case{"odd_adam_clip_shuffle", kOdd, 2, 31, true, true},
                                           Case{"odd_sgd_batch1", kOdd, 0, 1, false, false},
                                           Case{"linear_momentum_shuffle", kLinear, 1, 1571, false, true},
                                           Case{"linear_adam_clip", kLinear, 2, 33, true, false}),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(TrialArena, ALayoutNotAlignedTo256BytesIsRefused) {
  const ArenaShape shape = shape_of(kOdd, 2, 31, false, false);
  ArenaPlan plan;
  EXPECT_THROW(lay_out_arena(shape, ParameterLayout(kOdd), plan), ConfigError);
  EXPECT_THROW(lay_out_arena(shape, ParameterLayout(kLinear, kParameterAlignment), plan), ConfigError);
}

}  // namespace
}  // namespace mlptune::cuda
