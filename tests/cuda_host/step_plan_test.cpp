// The CUDA training step's plan, on the host: a 784-256-256-10 step is 15 graph nodes (the launches
// it took before the plan: 23), with or without dropout, and 11 with ReLU in the products'
// epilogues; every plan, with and without those epilogues, for any depth with and without
// dropout and clipping, computes each tensor before reading it and each parameter's gradient once
// before the update; and evaluation's and prediction's first run per row count, not per pass, is
// marked exclusive.
#include "cuda/step_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace mlptune::cuda {
namespace {

using Op = StepOp;

TEST(StepPlanTest, TwoHiddenLayersTakeFifteenNodes) {
  const std::vector<PlannedLaunch> plan = plan_training_step(StepShape{3});
  const std::vector<PlannedLaunch> expected = {
      {Op::gather},
      {Op::linear_forward, 0},
      {Op::bias_activation, 0},
      {Op::linear_forward, 1},
      {Op::bias_activation, 1},
      {Op::linear_forward, 2},
      {Op::loss},
      {Op::weight_gradient, 2},
      {Op::input_gradient, 2},
      {Op::activation_bias_grad, 1},
      {Op::weight_gradient, 1},
      {Op::input_gradient, 1},
      {Op::activation_bias_grad, 0},
      {Op::weight_gradient, 0},
      {Op::optimizer_update},
  };
  EXPECT_EQ(plan, expected);
  EXPECT_EQ(graph_nodes(plan), 15u);  // 8 matrix products and 7 kernels
}

// With ReLU in the epilogues, each hidden layer's bias and activation ride in its forward product
// (which keeps the ReLU mask) and its activation derivative and bias gradient in the input gradient
// of the layer above (which reads the mask): 5 matrix products with epilogues, 3 plain ones, 3 kernels.
TEST(StepPlanTest, TwoHiddenReluLayersTakeElevenNodes) {
  const std::vector<PlannedLaunch> plan = plan_training_step(StepShape{3, false, false, true});
  const std::vector<PlannedLaunch> expected = {
      {Op::gather},
      {Op::linear_bias_relu, 0, false, true},
      {Op::linear_bias_relu, 1, false, true},
      {Op::linear_forward, 2},
      {Op::loss},
      {Op::weight_gradient, 2},
      {Op::input_gradient_relu, 2},
      {Op::weight_gradient, 1},
      {Op::input_gradient_relu, 1},
      {Op::weight_gradient, 0},
      {Op::optimizer_update},
  };
  EXPECT_EQ(plan, expected);
  EXPECT_EQ(graph_nodes(plan), 11u);
  EXPECT_LE(graph_nodes(plan), 12u);                                                 // the step's budget
  EXPECT_EQ(graph_nodes(plan_training_step(StepShape{3, false, true, true})), 13u);  // clipping's two passes
}

// The mask of dropout sits between the activation and the next product: with dropout the plan keeps
// its kernels, epilogues or not.
TEST(StepPlanTest, DropoutKeepsTheActivationKernels) {
  EXPECT_EQ(plan_training_step(StepShape{3, true, false, true}), plan_training_step(StepShape{3, true, false}));
  EXPECT_EQ(plan_training_step(StepShape{3, true, true, true}), plan_training_step(StepShape{3, true, true}));
}

// Dropout rides in the hidden layers' activation kernels, both ways; clipping adds its two passes.
TEST(StepPlanTest, DropoutAddsNoLaunchAndClippingTwo) {
  const std::vector<PlannedLaunch> plain = plan_training_step(StepShape{3});
  const std::vector<PlannedLaunch> dropout = plan_training_step(StepShape{3, true, false});
  ASSERT_EQ(dropout.size(), plain.size());
  for (std::size_t i = 0; i < plain.size(); ++i) {
    const bool masked = plain[i].op == Op::bias_activation || plain[i].op == Op::activation_bias_grad;
    EXPECT_EQ(dropout[i], (PlannedLaunch{plain[i].op, plain[i].layer, masked})) << i;
    EXPECT_FALSE(plain[i].dropout) << i;
  }
  EXPECT_EQ(graph_nodes(plan_training_step(StepShape{3, false, true})), graph_nodes(plain) + 2);
  const std::vector<PlannedLaunch> linear = {
      {Op::gather}, {Op::linear_forward, 0}, {Op::loss}, {Op::weight_gradient, 0}, {Op::optimizer_update}};
  EXPECT_EQ(plan_training_step(StepShape{1, true, false}), linear);  // no hidden layer: no dropout
}

// Replays a plan over named tensors: each launch needs its inputs computed and writes its outputs.
// Returns what went wrong, empty when nothing did.
std::string check_data_flow(const std::vector<PlannedLaunch>& plan, const StepShape& shape) {
  const int last = shape.layers - 1;
  std::set<std::string> ready{"rates", "parameters"};
  std::map<std::string, int> gradients;  // parameter gradients written, and how often
  std::string problems;
  auto name = [](const char* what, int layer) { return std::string(what) + std::to_string(layer); };
  auto input = [&](int l) { return l == 0 ? std::string("x") : name("out", l - 1); };
  auto need = [&](const std::string& tensor, std::size_t at) {
    if (!ready.contains(tensor))
      problems += "launch " + std::to_string(at) + " reads " + tensor + " before it is written\n";
  };
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const int l = plan[i].layer;
    switch (plan[i].op) {
      case Op::gather:
        need("rates", i);
        ready.insert({"x", "labels"});
        break;
      case Op::linear_forward:
        need(input(l), i);
        ready.insert(name("pre", l));
        break;
      case Op::linear_bias_relu:  // writes no pre-activation
        need(input(l), i);
        ready.insert(name("out", l));
        if (plan[i].mask) ready.insert(name("mask", l));
        break;
      case Op::bias_activation:
        need(name("pre", l), i);
        ready.insert(name("out", l));
        break;
      case Op::loss:
        need(name("pre", last), i);
        need("labels", i);
        ready.insert(name("delta", last));
        ++gradients[name("b", last)];
        break;
      case Op::weight_gradient:
        need(input(l), i);
        need(name("delta", l), i);
        ++gradients[name("W", l)];
        break;
      case Op::input_gradient:
        need(name("delta", l), i);
        ready.insert(name("grad_out", l - 1));
        break;
      case Op::input_gradient_relu:
        need(name("delta", l), i);
        need(name("mask", l - 1), i);
        ready.insert(name("delta", l - 1));
        ++gradients[name("b", l - 1)];
        break;
      case Op::activation_bias_grad:
        need(name("grad_out", l), i);
        need(name("pre", l), i);
        ready.insert(name("delta", l));
        ++gradients[name("b", l)];
        break;
      case Op::clip_gradient_norm:
        break;
      case Op::optimizer_update:
        if (i + 1 != plan.size()) problems += "the update is not the step's last launch\n";
        for (int layer = 0; layer < shape.layers; ++layer)
          for (const char* parameter : {"W", "b"})
            if (gradients[name(parameter, layer)] != 1)
              problems += name(parameter, layer) + "'s gradient is written " +
                          std::to_string(gradients[name(parameter, layer)]) + " times before the update\n";
        break;
    }
  }
  if (plan.empty() || plan.front().op != Op::gather) problems += "the step does not start with its gather\n";
  return problems;
}

TEST(StepPlanTest, EveryTensorIsWrittenBeforeItIsReadAndEveryGradientOnce) {
  for (int layers = 1; layers <= 5; ++layers)
    for (const bool dropout : {false, true})
      for (const bool clip : {false, true})
        for (const bool epilogues : {false, true})
          for (const std::uint64_t kernel_layers : {0b0, 0b1, 0b10, 0b101}) {
            const StepShape shape{layers, dropout, clip, epilogues, kernel_layers};
            SCOPED_TRACE("layers " + std::to_string(layers) + " dropout " + std::to_string(dropout) + " clip " +
                         std::to_string(clip) + " epilogues " + std::to_string(epilogues) + " kernel layers " +
                         std::to_string(kernel_layers));
            const std::vector<PlannedLaunch> plan = plan_training_step(shape);
            EXPECT_EQ(check_data_flow(plan, shape), "");
            // Per layer: a product and (hidden) bias + activation (+ dropout) forward; the loss; per
            // layer a weight gradient and (hidden) an input gradient and the activation's derivative
            // with the bias gradient (+ dropout); clipping's two passes. A hidden layer with its ReLU
            // in the epilogues takes neither of its two kernels.
            const int hidden = layers - 1;
            const int fused =
                epilogues && !dropout ? hidden - std::popcount(kernel_layers & ((std::uint64_t(1) << hidden) - 1)) : 0;
            const int expected = 1 + layers + hidden + 1 + layers + 2 * hidden + 1 + (clip ? 2 : 0) - 2 * fused;
            EXPECT_EQ(graph_nodes(plan), std::size_t(expected));
          }
}

// A hidden layer cuBLASLt has no algorithm for keeps both its kernels; the others keep their epilogues.
TEST(StepPlanTest, AHiddenLayerWithoutAlgorithmsKeepsItsKernels) {
  const std::vector<PlannedLaunch> plan = plan_training_step(StepShape{3, false, false, true, 0b1});
  const std::vector<PlannedLaunch> expected = {
      {Op::gather},
      {Op::linear_forward, 0},
      {Op::bias_activation, 0},
      {Op::linear_bias_relu, 1, false, true},
      {Op::linear_forward, 2},
      {Op::loss},
      {Op::weight_gradient, 2},
      {Op::input_gradient_relu, 2},
      {Op::weight_gradient, 1},
      {Op::input_gradient, 1},
      {Op::activation_bias_grad, 0},
      {Op::weight_gradient, 0},
      {Op::optimizer_update},
  };
  EXPECT_EQ(plan, expected);
  EXPECT_EQ(graph_nodes(plan), 13u);
}

TEST(StepPlanTest, ACheckThatCanFailFindsAMisorderedPlan) {
  std::vector<PlannedLaunch> plan = plan_training_step(StepShape{3});
  std::swap(plan[7], plan[8]);  // fine: weight and input gradient of the output layer are independent
  EXPECT_EQ(check_data_flow(plan, StepShape{3}), "");
  std::swap(plan[9], plan[10]);  // the hidden layer's weight gradient before its δ
  EXPECT_NE(check_data_flow(plan, StepShape{3}), "");

  const StepShape relu{3, false, false, true};
  std::vector<PlannedLaunch> fused = plan_training_step(relu);
  ASSERT_EQ(check_data_flow(fused, relu), "");
  fused[2].mask = false;  // layer 1's forward as evaluation runs it: its mask is not kept
  EXPECT_NE(check_data_flow(fused, relu), "");
  std::vector<PlannedLaunch> unfused_backward = plan_training_step(StepShape{3});
  std::copy(fused.begin(), fused.begin() + 4, unfused_backward.begin() + 1);  // fused forward, kernels' backward
  unfused_backward.erase(unfused_backward.begin() + 5, unfused_backward.begin() + 7);
  EXPECT_NE(check_data_flow(unfused_backward, StepShape{3}), "");  // the derivative reads pre, never written
}

// The NVTX ranges "forward", "backward" and "update" (experiments/profile.sh filters on them) each
// cover one run of launches, in that order.
TEST(StepPlanTest, PhasesRunInOrderOnce) {
  for (const bool regularized : {false, true}) {
    std::vector<std::string> phases;
    for (const PlannedLaunch& launch : plan_training_step(StepShape{3, regularized, regularized})) {
      const std::string name = phase_name(step_phase(launch.op));
      if (phases.empty() || phases.back() != name) phases.push_back(name);
    }
    EXPECT_EQ(phases, (std::vector<std::string>{"forward", "backward", "update"}));
  }
}

TEST(StepPlanTest, AForwardPassEndsAtTheLogitsWithoutDropout) {
  std::vector<PlannedLaunch> forward;
  plan_forward(StepShape{3}, forward);
  const std::vector<PlannedLaunch> expected = {{Op::linear_forward, 0},
                                               {Op::bias_activation, 0},
                                               {Op::linear_forward, 1},
                                               {Op::bias_activation, 1},
                                               {Op::linear_forward, 2}};
  EXPECT_EQ(forward, expected);

  // With ReLU in the epilogues: the hidden layers' products alone, keeping no mask outside training.
  std::vector<PlannedLaunch> fused;
  plan_forward(StepShape{3, false, false, true}, fused);
  const std::vector<PlannedLaunch> expected_fused = {
      {Op::linear_bias_relu, 0}, {Op::linear_bias_relu, 1}, {Op::linear_forward, 2}};
  EXPECT_EQ(fused, expected_fused);
}

TEST(RowCountsRunTest, ChunkRowCountsAreTheFullChunksAndTheRemainder) {
  EXPECT_EQ(chunk_row_counts(0, 1024), std::vector<int>{});
  EXPECT_EQ(chunk_row_counts(211, 1024), std::vector<int>{211});
  EXPECT_EQ(chunk_row_counts(1024, 1024), std::vector<int>{1024});
  EXPECT_EQ(chunk_row_counts(2500, 1024), (std::vector<int>{1024, 452}));
}

// A later pass over a new row count is a first use again; the same counts, in any pass, are not.
TEST(RowCountsRunTest, AFirstUseIsPerRowCountNotPerPass) {
  RowCountsRun run;
  const std::vector<int> validation = chunk_row_counts(211, 1024);
  EXPECT_TRUE(run.first_use(validation));
  run.record(validation);
  EXPECT_FALSE(run.first_use(validation));
  EXPECT_TRUE(run.first_use(chunk_row_counts(97, 1024)));    // another split
  EXPECT_TRUE(run.first_use(chunk_row_counts(2259, 1024)));  // its remainder is new
  run.record(chunk_row_counts(2259, 1024));
  EXPECT_FALSE(run.first_use(chunk_row_counts(1024, 1024)));  // full chunks ran within 2259
  EXPECT_FALSE(run.first_use(chunk_row_counts(3283, 1024)));  // 3·1024 + 211
}

}  // namespace
}  // namespace mlptune::cuda
