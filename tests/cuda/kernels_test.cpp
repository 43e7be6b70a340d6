// Every CUDA launcher against its ref:: twin of the same name (and the cuBLAS products, plain and
// with ReLU epilogues, against ref::linear_forward and ref::linear_backward), over odd shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "activation.cuh"
#include "common/counter_rng.hpp"
#include "cpu/reference.hpp"
#include "cuda/device_trial.hpp"
#include "cuda/gemm.hpp"
#include "cuda/trial_arena.hpp"
#include "gather.cuh"
#include "gpu_test_support.hpp"
#include "init.cuh"
#include "loss.cuh"
#include "metrics.cuh"
#include "nn/parameter_layout.hpp"
#include "optimizer.cuh"
#include "shuffle.cuh"

namespace mlptune {
namespace {

using test::all_close;
using test::DeviceArray;
using test::GpuTest;

// (batch, width) pairs: 1, the odd 31/33/509 around tile and warp sizes, and MNIST's 128 x 784.
const std::vector<std::pair<int, int>> kShapes = {{1, 1}, {1, 31}, {31, 33}, {33, 31}, {509, 7}, {7, 509}, {128, 784}};
const std::vector<Activation> kActivations = {Activation::relu, Activation::tanh, Activation::sigmoid, Activation::gelu,
                                              Activation::identity};

std::string label(Activation activation, int batch, int width) {
  return std::string(to_string(activation)) + " " + std::to_string(batch) + "x" + std::to_string(width);
}

// --- bias + activation ------------------------------------------------------------------------

// pre = z + bias is one float addition on both sides: exact. f(pre): CUDA's tanhf/expf are within
// 2 ulp and glibc's within 1 (each ≈ 1.2e-7 relative), and gelu/sigmoid compose a few such
// operations: 4e-6 relative; 1e-6 absolute where gelu's 1 + tanh cancels near its minimum.
class ActivationTest : public GpuTest {};

TEST_F(ActivationTest, BiasActivationForwardMatchesReference) {
  for (const Activation activation : kActivations) {
    for (const auto& [batch, width] : kShapes) {
      SCOPED_TRACE(label(activation, batch, width));
      const std::size_t count = static_cast<std::size_t>(batch) * width;
      const std::vector<float> z = test::random_floats(count, 1, -4.0f, 4.0f);
      const std::vector<float> bias = test::random_floats(static_cast<std::size_t>(width), 2);
      std::vector<float> ref_pre(count), ref_out(count);
      ref::bias_activation_forward(activation, z.data(), bias.data(), ref_pre.data(), ref_out.data(), batch, width);

      DeviceArray<float> pre(z), device_bias(bias), out(count);
      kernels::bias_activation_forward(activation, pre.get(), device_bias.get(), out.get(), batch, width, stream());
      EXPECT_TRUE(all_close(pre.download(), ref_pre, 0.0, 0.0));
      EXPECT_TRUE(all_close(out.download(), ref_out, 1e-6, 4e-6));
    }
  }
}

TEST_F(ActivationTest, BiasActivationForwardOnTheOutputLayerWritesPreOnly) {
  const int batch = 33, width = 10;
  const std::vector<float> z = test::random_floats(static_cast<std::size_t>(batch) * width, 3);
  const std::vector<float> bias = test::random_floats(static_cast<std::size_t>(width), 4);
  std::vector<float> ref_pre(z.size());
  ref::bias_activation_forward(Activation::identity, z.data(), bias.data(), ref_pre.data(), ref_pre.data(), batch,
                               width);
  DeviceArray<float> pre(z), device_bias(bias);
  kernels::bias_activation_forward(Activation::identity, pre.get(), device_bias.get(), nullptr, batch, width, stream());
  EXPECT_TRUE(all_close(pre.download(), ref_pre, 0.0, 0.0));
}

// f'(pre)·grad: the derivatives combine 2-3 transcendental results (see above) and one product:
// 1e-5 relative, 2e-6 absolute near the zeros of gelu's derivative. The bias gradient is checked
// on the kernel's own δ, so only the column sums' order differs (see the float test below).
TEST_F(ActivationTest, ActivationBiasGradientMatchesReference) {
  for (const Activation activation : kActivations) {
    for (const auto& [batch, width] : kShapes) {
      SCOPED_TRACE(label(activation, batch, width));
      const std::size_t count = static_cast<std::size_t>(batch) * width;
      const std::vector<float> pre = test::random_floats(count, 5, -4.0f, 4.0f);
      const std::vector<float> grad_out = test::random_floats(count, 6);
      std::vector<float> ref_grad(count);
      ref::activation_backward(activation, pre.data(), grad_out.data(), ref_grad.data(), count);

      DeviceArray<float> device_pre(pre), grad(grad_out), bias_grad(static_cast<std::size_t>(width));
      kernels::activation_bias_gradient(activation, device_pre.get(), grad.get(), bias_grad.get(), batch, width,
                                        stream());
      const std::vector<float> delta = grad.download();
      EXPECT_TRUE(all_close(delta, ref_grad, 2e-6, 1e-5));
      std::vector<float> ref_bias_grad(static_cast<std::size_t>(width));
      ref::bias_gradient(delta.data(), ref_bias_grad.data(), batch, width);
      EXPECT_TRUE(all_close(bias_grad.download(), ref_bias_grad, 2e-5, 1e-6));
    }
  }
}

// --- bias gradient (the identity's activation_bias_gradient: δ = grad) ----------------------------

class BiasGradientTest : public GpuTest {};

// Integer-valued inputs: every partial sum is an exact float, so any summation order is exact.
TEST_F(BiasGradientTest, IntegerColumnSumsAreExact) {
  for (const auto& [batch, width] : kShapes) {
    SCOPED_TRACE(std::to_string(batch) + "x" + std::to_string(width));
    const std::vector<float> grad = test::random_integers(static_cast<std::size_t>(batch) * width, 7, -8, 8);
    std::vector<float> ref_sum(static_cast<std::size_t>(width));
    ref::bias_gradient(grad.data(), ref_sum.data(), batch, width);
    DeviceArray<float> device_pre(grad), device_grad(grad), sum(static_cast<std::size_t>(width));
    kernels::activation_bias_gradient(Activation::identity, device_pre.get(), device_grad.get(), sum.get(), batch,
                                      width, stream());
    EXPECT_TRUE(all_close(sum.download(), ref_sum, 0.0, 0.0));
    EXPECT_TRUE(all_close(device_grad.download(), grad, 0.0, 0.0));
  }
}

// Random floats: the two summation orders differ by rounding, about √B·u·(Σ|x|)/√B per column; with
// |x| < 1.2 and B ≤ 509 that stays below 2e-5 absolute.
TEST_F(BiasGradientTest, FloatColumnSumsMatchReference) {
  for (const auto& [batch, width] : kShapes) {
    SCOPED_TRACE(std::to_string(batch) + "x" + std::to_string(width));
    const std::vector<float> grad = test::random_floats(static_cast<std::size_t>(batch) * width, 8);
    std::vector<float> ref_sum(static_cast<std::size_t>(width));
    ref::bias_gradient(grad.data(), ref_sum.data(), batch, width);
    DeviceArray<float> device_pre(grad), device_grad(grad), sum(static_cast<std::size_t>(width));
    kernels::activation_bias_gradient(Activation::identity, device_pre.get(), device_grad.get(), sum.get(), batch,
                                      width, stream());
    EXPECT_TRUE(all_close(sum.download(), ref_sum, 2e-5, 1e-6));
  }
}

// --- losses ----------------------------------------------------------------------------------------

// (batch, classes): 2 classes, MNIST's 10, more classes than a warp has lanes.
const std::vector<std::pair<int, int>> kLossShapes = {{1, 2}, {31, 10}, {33, 33}, {509, 3}, {128, 10}, {7, 100}};

// The loss is log Σ exp - (z_label - max): expf/logf differ by ≤ 2 ulp between CUDA and glibc, and
// Σ exp is summed in another order: 1e-5 relative, 1e-6 absolute for losses near 0. The gradient
// (softmax - onehot)/B has the same relative error; 1e-7 absolute for its tiny entries.
class LossTest : public GpuTest {};

// The logits' bias add is one float addition on both sides: exact. The bias gradient is checked on
// the kernel's own gradient: |g| ≤ 1/B, so a column sums to at most 1 in magnitude and two orders
// differ by far less than 1e-5.
TEST_F(LossTest, SoftmaxCrossEntropyMatchesReference) {
  for (const auto& [batch, classes] : kLossShapes) {
    SCOPED_TRACE(std::to_string(batch) + "x" + std::to_string(classes));
    const std::vector<float> z = test::random_floats(static_cast<std::size_t>(batch) * classes, 9, -5.0f, 5.0f);
    const std::vector<float> bias = test::random_floats(static_cast<std::size_t>(classes), 27);
    const std::vector<std::int32_t> labels = test::random_labels(static_cast<std::size_t>(batch), classes, 10);
    std::vector<float> logits(z.size()), ref_loss(static_cast<std::size_t>(batch)), ref_grad(z.size());
    ref::bias_activation_forward(Activation::identity, z.data(), bias.data(), logits.data(), logits.data(), batch,
                                 classes);
    ref::softmax_cross_entropy(logits.data(), labels.data(), ref_loss.data(), ref_grad.data(), batch, classes);

    DeviceArray<float> device_logits(z), device_bias(bias), loss(static_cast<std::size_t>(batch)), grad(z.size()),
        bias_grad(static_cast<std::size_t>(classes)), loss_only(static_cast<std::size_t>(batch));
    DeviceArray<std::int32_t> device_labels(labels);
    kernels::LossOutputs training;
    training.sample_loss = loss.get();
    training.grad = grad.get();
    training.bias_grad = bias_grad.get();
    kernels::softmax_cross_entropy(device_logits.get(), device_bias.get(), device_labels.get(), training, batch,
                                   classes, stream());
    EXPECT_TRUE(all_close(device_logits.download(), logits, 0.0, 0.0));
    kernels::LossOutputs evaluation;
    evaluation.sample_loss = loss_only.get();
    kernels::softmax_cross_entropy(device_logits.get(), nullptr, device_labels.get(), evaluation, batch, classes,
                                   stream());
    EXPECT_TRUE(all_close(loss.download(), ref_loss, 1e-6, 1e-5));
    const std::vector<float> gradient = grad.download();
    EXPECT_TRUE(all_close(gradient, ref_grad, 1e-7, 1e-5));
    std::vector<float> ref_bias_grad(static_cast<std::size_t>(classes));
    ref::bias_gradient(gradient.data(), ref_bias_grad.data(), batch, classes);
    EXPECT_TRUE(all_close(bias_grad.download(), ref_bias_grad, 1e-6, 1e-5));
    // Evaluation (no gradient, no bias: the logits hold it) computes the same losses, bit for bit.
    EXPECT_TRUE(all_close(loss_only.download(), loss.download(), 0.0, 0.0));
  }
}

// The gradient is (p - t)·(2/(B·K)) on both sides: exact. The loss sums K positive squares in
// another order (a warp tree, with FMAs): the bound (K-1)·u ≈ 2.8e-6 for K = 47 gives 4e-6 relative.
TEST_F(LossTest, MeanSquaredErrorMatchesReference) {
  const std::vector<std::pair<int, int>> shapes = {{1, 1}, {31, 3}, {509, 1}, {128, 10}, {33, 47}};
  for (const auto& [batch, width] : shapes) {
    SCOPED_TRACE(std::to_string(batch) + "x" + std::to_string(width));
    const std::vector<float> z = test::random_floats(static_cast<std::size_t>(batch) * width, 11, -3.0f, 3.0f);
    const std::vector<float> bias = test::random_floats(static_cast<std::size_t>(width), 28);
    const std::vector<float> target = test::random_floats(z.size(), 12, -3.0f, 3.0f);
    std::vector<float> pred(z.size()), ref_loss(static_cast<std::size_t>(batch)), ref_grad(z.size());
    ref::bias_activation_forward(Activation::identity, z.data(), bias.data(), pred.data(), pred.data(), batch, width);
    ref::mean_squared_error(pred.data(), target.data(), ref_loss.data(), ref_grad.data(), batch, width);
    DeviceArray<float> device_pred(z), device_bias(bias), device_target(target), loss(static_cast<std::size_t>(batch)),
        grad(z.size()), bias_grad(static_cast<std::size_t>(width));
    kernels::LossOutputs training;
    training.sample_loss = loss.get();
    training.grad = grad.get();
    training.bias_grad = bias_grad.get();
    kernels::mean_squared_error(device_pred.get(), device_bias.get(), device_target.get(), training, batch, width,
                                stream());
    EXPECT_TRUE(all_close(device_pred.download(), pred, 0.0, 0.0));
    EXPECT_TRUE(all_close(loss.download(), ref_loss, 0.0, 4e-6));
    EXPECT_TRUE(all_close(grad.download(), ref_grad, 0.0, 0.0));
    std::vector<float> ref_bias_grad(static_cast<std::size_t>(width));
    ref::bias_gradient(ref_grad.data(), ref_bias_grad.data(), batch, width);
    EXPECT_TRUE(all_close(bias_grad.download(), ref_bias_grad, 1e-6, 1e-5));
  }
}

// --- metrics (summed by the loss kernel) ------------------------------------------------------------

class MetricsTest : public GpuTest {};

// Integer scores with many ties: correctness is the first maximum's, as ref::count_correct.
TEST_F(MetricsTest, CorrectCountsMatchTheReferenceAtTies) {
  const int batch = 509, classes = 10;
  std::vector<float> scores = test::random_integers(static_cast<std::size_t>(batch) * classes, 13, -3, 3);
  const std::vector<std::int32_t> labels = test::random_labels(static_cast<std::size_t>(batch), classes, 14);
  std::vector<std::int32_t> expected(static_cast<std::size_t>(batch));
  ref::count_correct(scores.data(), labels.data(), expected.data(), batch, classes);
  std::int64_t expected_correct = 0;
  for (const std::int32_t value : expected) expected_correct += value;
  ASSERT_GT(expected_correct, 0);
  DeviceArray<float> device_scores(scores), loss(static_cast<std::size_t>(batch));
  DeviceArray<std::int32_t> device_labels(labels);
  DeviceArray<MetricSums> metrics(std::vector<MetricSums>(1));
  kernels::LossOutputs evaluation;
  evaluation.sample_loss = loss.get();
  evaluation.metrics = metrics.get();
  evaluation.count_correct = true;
  kernels::softmax_cross_entropy(device_scores.get(), nullptr, device_labels.get(), evaluation, batch, classes,
                                 stream());
  EXPECT_EQ(metrics.download()[0].correct, expected_correct);
}

// The sum runs in double over float losses: any order agrees to ~1e-15 relative. 4097 rows give
// each of the kernel's warps many rows.
TEST_F(MetricsTest, LossSumsAccumulateAndFlagTheFirstNonFiniteStep) {
  const int classes = 7;
  for (const int batch : {1, 31, 33, 509, 4097}) {
    SCOPED_TRACE(batch);
    const std::vector<float> logits = test::random_floats(static_cast<std::size_t>(batch) * classes, 15, -3.0f, 3.0f);
    std::vector<std::int32_t> labels = test::random_labels(static_cast<std::size_t>(batch), classes, 16);
    DeviceArray<float> device_logits(logits), loss(static_cast<std::size_t>(batch));
    DeviceArray<std::int32_t> device_labels(labels);
    DeviceArray<MetricSums> metrics(std::vector<MetricSums>(1));
    DeviceArray<std::int64_t> step(std::vector<std::int64_t>{41});
    kernels::LossOutputs training;
    training.sample_loss = loss.get();
    training.metrics = metrics.get();
    training.step_counter = step.get();
    // Twice: the sums accumulate.
    for (int repeat = 0; repeat < 2; ++repeat)
      kernels::softmax_cross_entropy(device_logits.get(), nullptr, device_labels.get(), training, batch, classes,
                                     stream());
    const std::vector<float> losses = loss.download();
    MetricSums expected;
    ref::accumulate_metrics(losses.data(), nullptr, batch, &expected, nullptr);
    const MetricSums result = metrics.download()[0];
    EXPECT_NEAR(result.loss_sum, 2 * expected.loss_sum, 1e-12 * expected.loss_sum);
    EXPECT_EQ(result.correct, 0);  // not counted in training
    EXPECT_EQ(result.samples, 2 * batch);
    EXPECT_EQ(result.nonfinite, 0);

    // A label out of range gives a NaN loss: the flag is set with step + 1; a later bad step does
    // not move it.
    labels[static_cast<std::size_t>(batch) / 2] = -1;
    device_labels.upload(labels);
    kernels::softmax_cross_entropy(device_logits.get(), nullptr, device_labels.get(), training, batch, classes,
                                   stream());
    step.upload({99});
    kernels::softmax_cross_entropy(device_logits.get(), nullptr, device_labels.get(), training, batch, classes,
                                   stream());
    const MetricSums flagged = metrics.download()[0];
    EXPECT_EQ(flagged.nonfinite, 1);
    EXPECT_EQ(flagged.first_nonfinite_step, 42);
  }
}

TEST_F(MetricsTest, FlagNonfiniteValuesFlagsTheCurrentStepOnce) {
  for (const std::size_t count :
       {std::size_t(1), std::size_t(31), std::size_t(33), std::size_t(509), std::size_t(269322)}) {
    SCOPED_TRACE(count);
    std::vector<float> values = test::random_floats(count, 17, -3.0f, 3.0f);
    DeviceArray<float> device_values(values);
    DeviceArray<MetricSums> metrics(std::vector<MetricSums>(1));
    DeviceArray<std::int64_t> step(std::vector<std::int64_t>{7});
    kernels::flag_nonfinite_values(device_values.get(), count, metrics.get(), step.get(), stream());
    EXPECT_EQ(metrics.download()[0].nonfinite, 0) << "all finite: no flag";

    values[count - 1] = std::numeric_limits<float>::infinity();  // the last element: the bounds matter
    if (count > 2) values[count / 2] = std::numeric_limits<float>::quiet_NaN();
    device_values.upload(values);
    kernels::flag_nonfinite_values(device_values.get(), count, metrics.get(), step.get(), stream());
    step.upload({8});
    kernels::flag_nonfinite_values(device_values.get(), count, metrics.get(), step.get(), stream());
    const MetricSums flagged = metrics.download()[0];
    EXPECT_EQ(flagged.nonfinite, 1);
    EXPECT_EQ(flagged.first_nonfinite_step, 7) << "the first flagging step stays";
  }
}

// The loss kernel's metrics and the flag against their ref:: twins on the same calls, the reference
// summing the kernel's own losses. Counts and flags are exact; the loss sums run in double over the
// same float losses in another order: 1e-12 relative.
TEST_F(MetricsTest, LossMetricsAndFlagNonfiniteValuesMatchReference) {
  const int classes = 3;
  for (const int batch : {1, 31, 33, 509, 4097}) {
    SCOPED_TRACE(batch);
    const std::size_t count = static_cast<std::size_t>(batch);
    const std::vector<float> logits = test::random_floats(count * classes, 27, -2.0f, 2.0f);
    std::vector<std::int32_t> labels = test::random_labels(count, classes, 28);
    DeviceArray<float> device_logits(logits), device_losses(count);
    DeviceArray<std::int32_t> device_labels(labels);
    DeviceArray<MetricSums> metrics(std::vector<MetricSums>(1));
    std::int64_t step = 4;
    DeviceArray<std::int64_t> device_step(std::vector<std::int64_t>{step});
    kernels::LossOutputs outputs;
    outputs.sample_loss = device_losses.get();
    outputs.metrics = metrics.get();
    outputs.step_counter = device_step.get();
    outputs.count_correct = true;
    kernels::softmax_cross_entropy(device_logits.get(), nullptr, device_labels.get(), outputs, batch, classes,
                                   stream());
    std::vector<std::int32_t> correct(count);
    ref::count_correct(logits.data(), labels.data(), correct.data(), batch, classes);
    MetricSums expected;
    std::vector<float> losses = device_losses.download();
    ref::accumulate_metrics(losses.data(), correct.data(), batch, &expected, &step);
    const MetricSums clean = metrics.download()[0];
    EXPECT_NEAR(clean.loss_sum, expected.loss_sum, 1e-12 * expected.loss_sum);
    EXPECT_EQ(clean.correct, expected.correct);
    EXPECT_EQ(clean.samples, expected.samples);
    EXPECT_EQ(clean.nonfinite, 0);
    EXPECT_EQ(expected.nonfinite, 0);

    // A NaN loss at step counter 5 flags step 6 on both; a later infinite value does not move it.
    labels[count / 2] = classes;  // out of range: a NaN loss
    device_labels.upload(labels);
    step = 5;
    device_step.upload({step});
    outputs.count_correct = false;
    kernels::softmax_cross_entropy(device_logits.get(), nullptr, device_labels.get(), outputs, batch, classes,
                                   stream());
    losses = device_losses.download();
    ASSERT_TRUE(std::isnan(losses[count / 2]));
    ref::accumulate_metrics(losses.data(), nullptr, batch, &expected, &step);
    std::vector<float> values = test::random_floats(count, 29);
    values[count - 1] = std::numeric_limits<float>::infinity();
    DeviceArray<float> device_values(values);
    step = 9;
    device_step.upload({step});
    ref::flag_nonfinite_values(values.data(), count, &expected, &step);
    kernels::flag_nonfinite_values(device_values.get(), count, metrics.get(), device_step.get(), stream());
    const MetricSums flagged = metrics.download()[0];
    EXPECT_EQ(flagged.nonfinite, expected.nonfinite);
    EXPECT_EQ(flagged.first_nonfinite_step, expected.first_nonfinite_step);
    EXPECT_EQ(expected.first_nonfinite_step, 6);
    EXPECT_EQ(flagged.samples, expected.samples);

    // On fresh sums the infinite value flags the current step itself, on both.
    MetricSums fresh_expected;
    DeviceArray<MetricSums> fresh(std::vector<MetricSums>(1));
    ref::flag_nonfinite_values(values.data(), count, &fresh_expected, &step);
    kernels::flag_nonfinite_values(device_values.get(), count, fresh.get(), device_step.get(), stream());
    EXPECT_EQ(fresh.download()[0].first_nonfinite_step, fresh_expected.first_nonfinite_step);
    EXPECT_EQ(fresh_expected.first_nonfinite_step, 9);
  }
}

// --- optimizer ----------------------------------------------------------------------------------

const std::vector<Optimizer> kOptimizers = {Optimizer::sgd, Optimizer::momentum, Optimizer::nesterov, Optimizer::adam,
                                            Optimizer::adamw};

cuda::DeviceTrial record_for(const TrainConfig& config, std::int64_t steps_taken) {
  cuda::DeviceTrial record;
  record.momentum = config.momentum;
  record.beta1 = config.beta1;
  record.beta2 = config.beta2;
  record.epsilon = config.epsilon;
  record.weight_decay = config.weight_decay;
  record.optimizer = static_cast<std::int32_t>(config.optimizer);
  record.batch_size = config.batch_size;
  record.epoch_first_step = steps_taken;
  record.step = steps_taken;
  return record;
}

// Starts a step on `record` as a training step does, through its gather (of one float column whose
// row r holds r), and returns the row the batch starts at.
float start_step(cuda::DeviceTrial* record, const double* rates, int epoch_steps, cudaStream_t stream) {
  std::vector<float> rows(4096);
  for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = float(r);
  DeviceArray<float> source(rows), first_row(1);
  kernels::gather_rows(source.get(), 1,
                       kernels::RowSelection{nullptr, 0, kernels::StepStart{record, rates, epoch_steps}}, 1,
                       first_row.get(), {}, stream);
  return first_row.download()[0];
}

// The update is a handful of float operations per element, which nvcc may fuse into FMAs and the
// reference runs in SIMD without them: 1-2 ulp of the parameter (≈ 2e-7 relative) and of the
// slots; 1e-7 absolute for elements near zero.
class OptimizerTest : public GpuTest {};

TEST_F(OptimizerTest, OptimizerUpdateMatchesReferenceForEveryRule) {
  for (const Optimizer optimizer : kOptimizers) {
    for (const std::size_t count :
         {std::size_t(1), std::size_t(31), std::size_t(33), std::size_t(509), std::size_t(269322)}) {
      for (const std::int64_t step : {std::int64_t(1), std::int64_t(7)}) {
        SCOPED_TRACE(std::string(to_string(optimizer)) + " n=" + std::to_string(count) + " t=" + std::to_string(step));
        TrainConfig config;
        config.optimizer = optimizer;
        config.weight_decay = 0.01;
        config.momentum = 0.85;
        const double learning_rate = 0.02;
        std::vector<float> parameters = test::random_floats(count, 17);
        const std::vector<float> gradients = test::random_floats(count, 18);
        std::vector<float> first = test::random_floats(count, 19, -0.1f, 0.1f);
        std::vector<float> second = test::random_floats(count, 20, 0.0f, 0.01f);

        DeviceArray<float> device_parameters(parameters), device_gradients(gradients), device_first(first),
            device_second(second);
        DeviceArray<cuda::DeviceTrial> record(std::vector<cuda::DeviceTrial>{record_for(config, step - 1)});
        DeviceArray<double> rates(std::vector<double>{learning_rate});
        start_step(record.get(), rates.get(), 1, stream());
        kernels::optimizer_update(record.get(), device_parameters.get(), device_gradients.get(), device_first.get(),
                                  device_second.get(), count, stream());

        ref::optimizer_update(ref::optimizer_step(config, learning_rate, step), parameters.data(), gradients.data(),
                              first.data(), second.data(), count);
        const int slots = optimizer_slot_count(optimizer);
        EXPECT_TRUE(all_close(device_parameters.download(), parameters, 1e-7, 4e-7));
        if (slots >= 1) EXPECT_TRUE(all_close(device_first.download(), first, 1e-7, 4e-7));
        if (slots >= 2) EXPECT_TRUE(all_close(device_second.download(), second, 1e-9, 4e-7));
        EXPECT_EQ(record.download()[0].step, step);
      }
    }
  }
}

TEST_F(OptimizerTest, TheGatherStartsTheStepFromTheEpochTable) {
  TrainConfig config;
  config.batch_size = 33;
  cuda::DeviceTrial start = record_for(config, 10);
  start.step = 13;  // the fourth step of an epoch that began at step 10
  DeviceArray<cuda::DeviceTrial> record(std::vector<cuda::DeviceTrial>{start});
  DeviceArray<double> rates(std::vector<double>{0.5, 0.25, 0.125, 0.0625, 0.03125});
  EXPECT_EQ(start_step(record.get(), rates.get(), 5, stream()), float(3 * 33));
  const cuda::DeviceTrial result = record.download()[0];
  EXPECT_EQ(result.learning_rate, 0.0625f);
  EXPECT_EQ(result.batch_first_row, 3 * 33);
  EXPECT_FLOAT_EQ(result.adam_step_size, float(0.0625 / (1.0 - std::pow(0.9, 14.0))));
}

TEST_F(OptimizerTest, NothingMovesOnceDiverged) {
  TrainConfig config;
  config.optimizer = Optimizer::adam;
  const std::size_t count = 509;
  const std::vector<float> parameters = test::random_floats(count, 21);
  const std::vector<float> gradients = test::random_floats(count, 22);
  cuda::DeviceTrial start = record_for(config, 4);
  start.train.nonfinite = 1;
  DeviceArray<float> device_parameters(parameters), device_gradients(gradients), first(std::vector<float>(count, 0.0f)),
      second(std::vector<float>(count, 0.0f));
  DeviceArray<cuda::DeviceTrial> record(std::vector<cuda::DeviceTrial>{start});
  DeviceArray<double> rates(std::vector<double>{0.1});
  start_step(record.get(), rates.get(), 1, stream());
  kernels::optimizer_update(record.get(), device_parameters.get(), device_gradients.get(), first.get(), second.get(),
                            count, stream());
  EXPECT_EQ(device_parameters.download(), parameters);
  EXPECT_EQ(record.download()[0].step, 4);
}

// --- initialisation -------------------------------------------------------------------------------

// Host and device libm (logf, cosf) differ by an ulp or two: 1e-6 relative, as counter_rng.hpp
// documents; 1e-7 absolute for weights that land next to zero.
class InitTest : public GpuTest {};

TEST_F(InitTest, InitializeWeightsMatchesReference) {
  for (const Init init : {Init::he, Init::xavier}) {
    SCOPED_TRACE(std::string(to_string(init)));
    ModelSpec model;
    model.input_width = 784;
    model.hidden = {256, 31};
    model.output_width = 10;
    model.init = init;
    const std::uint64_t seed = 20251123;
    const std::vector<LayerShape> layers = model.layers();
    for (std::size_t l = 0; l < layers.size(); ++l) {
      std::vector<float> expected(std::size_t(layers[l].weight_count()));
      ref::initialize_weights(init, seed, int(l), layers[l].in, layers[l].out, expected.data());
      DeviceArray<float> weight(std::size_t(layers[l].weight_count()));
      kernels::initialize_weights(init, seed, int(l), layers[l].in, layers[l].out, weight.get(), stream());
      EXPECT_TRUE(all_close(weight.download(), expected, 1e-7, 1e-6)) << "layer " << l;
    }
  }
}

// --- shuffle and gather -----------------------------------------------------------------------------

class ShuffleTest : public GpuTest {};

TEST_F(ShuffleTest, EpochPermutationEqualsReference) {
  for (const std::size_t rows :
       {std::size_t(1), std::size_t(31), std::size_t(33), std::size_t(509), std::size_t(60000)}) {
    for (const int epoch : {0, 3}) {
      for (const std::uint64_t seed : {std::uint64_t(0), std::uint64_t(42)}) {
        SCOPED_TRACE("rows " + std::to_string(rows) + " epoch " + std::to_string(epoch) + " seed " +
                     std::to_string(seed));
        const std::size_t workspace_bytes = kernels::shuffle_workspace_bytes(rows);
        DeviceArray<unsigned char> workspace(workspace_bytes);
        DeviceArray<std::uint32_t> order(rows);
        kernels::epoch_permutation(seed, epoch, rows, order.get(), workspace.get(), workspace_bytes, stream());
        EXPECT_EQ(order.download(), ref::epoch_permutation(seed, epoch, rows));
      }
    }
  }
}

TEST_F(ShuffleTest, IdentityPermutationEqualsReference) {
  const std::size_t rows = 509;
  DeviceArray<std::uint32_t> order(rows);
  kernels::identity_permutation(order.get(), rows, stream());
  EXPECT_EQ(order.download(), ref::identity_permutation(rows));
}

// Gathers copy or compute with the host's exact expression: equality.
class GatherTest : public GpuTest {};

TEST_F(GatherTest, GatherRowsAndGatherScaledBytesMatchReference) {
  const std::size_t rows = 509;
  for (const std::size_t cols : {std::size_t(1), std::size_t(31), std::size_t(784)}) {
    for (const auto& [first, batch] : {std::pair<std::int64_t, int>{0, 1}, {5, 33}, {381, 128}}) {
      SCOPED_TRACE("cols " + std::to_string(cols) + " first " + std::to_string(first) + " batch " +
                   std::to_string(batch));
      const std::vector<std::uint32_t> order = ref::epoch_permutation(7, 1, rows);
      // Bytes with a per-column affine map, and the float features the host derives from them.
      std::vector<std::uint8_t> raw(rows * cols);
      const std::vector<float> integers = test::random_integers(rows * cols, 23, 0, 255);
      for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = std::uint8_t(integers[i]);
      const std::vector<float> scale = test::random_floats(cols, 24, 0.001f, 0.01f);
      const std::vector<float> offset = test::random_floats(cols, 25, -1.0f, 0.0f);
      std::vector<float> features(rows * cols);
      for (std::size_t i = 0; i < features.size(); ++i)
        features[i] = std::fma(float(raw[i]), scale[i % cols], offset[i % cols]);
      std::vector<float> expected(static_cast<std::size_t>(batch) * cols);
      ref::gather_rows(features.data(), order.data(), static_cast<std::size_t>(first), batch, cols, expected.data());
      std::vector<float> expected_from_bytes(expected.size());
      ref::gather_scaled_bytes(raw.data(), scale.data(), offset.data(), order.data(), static_cast<std::size_t>(first),
                               batch, cols, expected_from_bytes.data());

      DeviceArray<std::uint32_t> device_order(order);
      DeviceArray<float> device_features(features), device_scale(scale), device_offset(offset);
      DeviceArray<std::uint8_t> device_raw(raw);
      // The float path takes `first` from the host; the byte path from a step's start (as training
      // does: full batches before it in the epoch) plus the rest from the host.
      const std::int64_t batches_before = first / batch;
      cuda::DeviceTrial start;
      start.batch_size = batch;
      start.epoch_first_step = 10;
      start.step = 10 + batches_before;
      DeviceArray<cuda::DeviceTrial> record(std::vector<cuda::DeviceTrial>{start});
      DeviceArray<double> rates(std::vector<double>(static_cast<std::size_t>(batches_before) + 1, 0.5));
      const kernels::StepStart step{record.get(), rates.get(), int(batches_before) + 1};
      DeviceArray<float> from_floats(expected.size()), from_bytes(expected.size());
      kernels::gather_rows(device_features.get(), cols, kernels::RowSelection{device_order.get(), first, {}}, batch,
                           from_floats.get(), {}, stream());
      kernels::gather_scaled_bytes(device_raw.get(), device_scale.get(), device_offset.get(), cols,
                                   kernels::RowSelection{device_order.get(), first % batch, step}, batch,
                                   from_bytes.get(), {}, stream());
      EXPECT_EQ(record.download()[0].batch_first_row, batches_before * batch);
      EXPECT_TRUE(all_close(from_floats.download(), expected, 0.0, 0.0));
      EXPECT_TRUE(all_close(from_bytes.download(), expected, 0.0, 0.0));
      EXPECT_TRUE(all_close(from_bytes.download(), expected_from_bytes, 0.0, 0.0));
    }
  }
}

// The same kernel gathers the rows' labels, or their targets, beside their features.
TEST_F(GatherTest, LabelsAndTargetsFollowThePermutationAsTheReference) {
  const std::size_t rows = 509, cols = 3;
  const int target_width = 2, batch = 128;
  const std::int64_t first = 256;
  const std::vector<float> features = test::random_floats(rows * cols, 30);
  const std::vector<std::int32_t> labels = test::random_labels(rows, 10, 26);
  const std::vector<float> targets = test::random_floats(rows * target_width, 31);
  const std::vector<std::uint32_t> order = ref::epoch_permutation(3, 0, rows);
  std::vector<std::int32_t> expected_labels(static_cast<std::size_t>(batch));
  std::vector<float> expected_targets(static_cast<std::size_t>(batch) * target_width);
  ref::gather_labels(labels.data(), order.data(), static_cast<std::size_t>(first), batch, expected_labels.data());
  ref::gather_rows(targets.data(), order.data(), static_cast<std::size_t>(first), batch, std::size_t(target_width),
                   expected_targets.data());
  DeviceArray<float> device_features(features), device_targets(targets), x(static_cast<std::size_t>(batch) * cols),
      gathered_targets(expected_targets.size());
  DeviceArray<std::int32_t> device_labels(labels), gathered_labels(static_cast<std::size_t>(batch));
  DeviceArray<std::uint32_t> device_order(order);
  const kernels::RowSelection selection{device_order.get(), first, {}};
  kernels::BatchTargets classification;
  classification.labels = device_labels.get();
  classification.batch_labels = gathered_labels.get();
  kernels::gather_rows(device_features.get(), cols, selection, batch, x.get(), classification, stream());
  EXPECT_EQ(gathered_labels.download(), expected_labels);
  kernels::BatchTargets regression;
  regression.targets = device_targets.get();
  regression.batch_targets = gathered_targets.get();
  regression.target_width = target_width;
  kernels::gather_rows(device_features.get(), cols, selection, batch, x.get(), regression, stream());
  EXPECT_TRUE(all_close(gathered_targets.download(), expected_targets, 0.0, 0.0));
}

// --- matrix products (cuBLAS) -------------------------------------------------------------------

// (batch, in, out): the products' three dimensions each take 1, odd sizes and MNIST's layer 1.
const std::vector<std::tuple<int, int, int>> kLinearShapes = {
    {1, 1, 1}, {31, 33, 509}, {509, 33, 31}, {33, 31, 1}, {1, 784, 256}, {128, 784, 256}, {128, 256, 10}};

class LinearTest : public GpuTest {
 protected:
  void SetUp() override {
    GpuTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    workspace_.emplace(std::size_t(4) << 20);
    handle_.emplace(stream(), workspace_->get(), workspace_->bytes());
  }
  cublasHandle_t handle() const { return handle_->get(); }

  // Runs the three products and the bias kernels of a layer on the device, compared with
  // ref::linear_forward and ref::linear_backward within (atol per unit of K, rtol).
  void check_layer(Precision precision, bool integers, double atol_per_k, double rtol) {
    for (const auto& [batch, in, out] : kLinearShapes) {
      SCOPED_TRACE(std::string(to_string(precision)) + " " + std::to_string(batch) + "x" + std::to_string(in) + "x" +
                   std::to_string(out));
      const auto values = [&](std::size_t count, std::uint32_t seed) {
        return integers ? test::random_integers(count, seed, -4, 4) : test::random_floats(count, seed);
      };
      const std::vector<float> x = values(static_cast<std::size_t>(batch) * in, 30);
      const std::vector<float> weight = values(static_cast<std::size_t>(out) * in, 31);
      const std::vector<float> bias = values(static_cast<std::size_t>(out), 32);
      const std::vector<float> grad_y = values(static_cast<std::size_t>(batch) * out, 33);
      std::vector<float> ref_y(static_cast<std::size_t>(batch) * out), ref_grad_x(x.size()), ref_grad_w(weight.size()),
          ref_grad_b(static_cast<std::size_t>(out));
      ref::linear_forward(x.data(), weight.data(), bias.data(), ref_y.data(), batch, in, out);
      ref::linear_backward(x.data(), weight.data(), grad_y.data(), ref_grad_x.data(), ref_grad_w.data(),
                           ref_grad_b.data(), batch, in, out);

      DeviceArray<float> dx(x), dw(weight), db(bias), dgy(grad_y), y(ref_y.size()), gx(x.size()), gw(weight.size()),
          gb(static_cast<std::size_t>(out));
      cuda::linear_forward_product(handle(), precision, dx.get(), dw.get(), y.get(), batch, in, out);
      kernels::bias_activation_forward(Activation::identity, y.get(), db.get(), nullptr, batch, out, stream());
      cuda::linear_weight_gradient(handle(), precision, dx.get(), dgy.get(), gw.get(), batch, in, out);
      cuda::linear_input_gradient(handle(), precision, dw.get(), dgy.get(), gx.get(), batch, in, out);
      // The identity's δ is grad_y (times 1: exact); its bias gradient the column sums. Its
      // pre-activations are not read, but must not alias δ.
      DeviceArray<float> pre(grad_y);
      kernels::activation_bias_gradient(Activation::identity, pre.get(), dgy.get(), gb.get(), batch, out, stream());
      EXPECT_TRUE(all_close(y.download(), ref_y, atol_per_k * std::sqrt(double(in)), rtol)) << "y = x·Wᵀ + b";
      EXPECT_TRUE(all_close(gw.download(), ref_grad_w, atol_per_k * std::sqrt(double(batch)), rtol)) << "grad W";
      EXPECT_TRUE(all_close(gx.download(), ref_grad_x, atol_per_k * std::sqrt(double(out)), rtol)) << "grad x";
      EXPECT_TRUE(all_close(gb.download(), ref_grad_b, atol_per_k * std::sqrt(double(batch)), rtol)) << "grad b";
    }
  }

 private:
  std::optional<cuda::DeviceBuffer> workspace_;
  std::optional<cuda::CublasHandle> handle_;
};

// Integers in [-4, 4]: products ≤ 16 and sums ≤ 784·16 are exact in float, and the inputs are exact
// in TF32, so both precisions must agree exactly, whatever order cuBLAS sums in. This pins the
// transposes and leading dimensions.
TEST_F(LinearTest, IntegerProductsAreExactInFp32) {
  check_layer(Precision::fp32, true, 0.0, 0.0);
}
TEST_F(LinearTest, IntegerProductsAreExactInTf32) {
  check_layer(Precision::tf32, true, 0.0, 0.0);
}

// Random floats in [-1, 1): the summation orders differ by rounding, about √K·u·|terms| with
// u = 6e-8; 1e-6·√K absolute is over ten times that and far below the O(1) error of a wrong operand.
TEST_F(LinearTest, FloatProductsMatchReferenceInFp32) {
  check_layer(Precision::fp32, false, 1e-6, 1e-6);
}

// TF32 rounds each input to 11 significant bits (relative 2^-11 ≈ 4.9e-4): each product is off by up
// to ~1e-3 of its size and random signs add these like a random walk: 2e-3·√K absolute.
TEST_F(LinearTest, FloatProductsMatchReferenceInTf32) {
  check_layer(Precision::tf32, false, 2e-3, 2e-3);
}

// --- matrix products with ReLU epilogues (cuBLASLt) ---------------------------------------------

// (batch, in, hidden, out): a hidden ReLU layer (in → hidden) under a layer (hidden → out). MNIST's
// 128 x 784-256-10 must have its algorithms; the odd ones are checked where cuBLASLt has them (the
// trainer keeps its kernels where it has not).
struct EpilogueShape {
  int batch, in, hidden, out;
  bool required;
};
const std::vector<EpilogueShape> kEpilogueShapes = {{128, 784, 256, 10, true},
                                                    {37, 256, 256, 10, true},
                                                    {31, 33, 65, 7, false},
                                                    {1, 31, 33, 509, false},
                                                    {509, 7, 31, 33, false}};

class EpilogueTest : public LinearTest {
 protected:
  // Forward: out = max(x·W0ᵀ + b0, 0) against ref::linear_forward and ref::bias_activation_forward.
  // Backward: δ = (grad_y·W1) where the forward's mask has its bit, ∂L/∂b0 = Σ_rows δ, against
  // ref::linear_backward, ref::activation_backward and ref::bias_gradient. The reference's ReLU
  // derivative is taken at the device's own outputs (positive exactly where its pre-activations
  // are), so a pre-activation within rounding of 0 cannot flip one side's mask alone.
  void check_relu_layer(Precision precision, double atol_per_k, double rtol) {
    DeviceArray<unsigned char> workspace(cuda::kEpilogueWorkspaceBytes);
    cuda::EpilogueProducts products(handle(), precision, {workspace.get(), workspace.size()});
    for (const auto& [batch, in, hidden, out, required] : kEpilogueShapes) {
      SCOPED_TRACE(std::string(to_string(precision)) + " " + std::to_string(batch) + "x" + std::to_string(in) + "-" +
                   std::to_string(hidden) + "-" + std::to_string(out));
      const std::size_t activations = static_cast<std::size_t>(batch) * hidden;
      const std::vector<float> x = test::random_floats(static_cast<std::size_t>(batch) * in, 40);
      const std::vector<float> w0 = test::random_floats(static_cast<std::size_t>(hidden) * in, 41);
      const std::vector<float> b0 = test::random_floats(static_cast<std::size_t>(hidden), 42);
      const std::vector<float> w1 = test::random_floats(static_cast<std::size_t>(out) * hidden, 43);
      const std::vector<float> grad_y = test::random_floats(static_cast<std::size_t>(batch) * out, 44);
      DeviceArray<float> dx(x), dw0(w0), db0(b0), dw1(w1), dgy(grad_y), y(activations), delta(activations),
          gb(static_cast<std::size_t>(hidden));
      DeviceArray<unsigned char> mask(static_cast<std::size_t>(batch) * cuda::relu_mask_bits(hidden) / 8);
      const cuda::EpilogueProduct forward =
          cuda::linear_bias_relu_product(dx.get(), dw0.get(), db0.get(), y.get(), mask.get(), batch, in, hidden);
      const cuda::EpilogueProduct backward = cuda::linear_input_gradient_relu_product(
          dw1.get(), dgy.get(), mask.get(), delta.get(), gb.get(), batch, hidden, out);
      const bool prepared = products.prepare(forward) && products.prepare(backward);
      EXPECT_TRUE(prepared || !required) << "cuBLASLt has no algorithm";
      if (!prepared) continue;
      products.run(forward, stream());
      products.run(backward, stream());

      const std::vector<float> zeros(static_cast<std::size_t>(hidden), 0.0f);
      std::vector<float> z(activations), pre(activations), ref_y(activations);
      ref::linear_forward(x.data(), w0.data(), zeros.data(), z.data(), batch, in, hidden);
      ref::bias_activation_forward(Activation::relu, z.data(), b0.data(), pre.data(), ref_y.data(), batch, hidden);
      const std::vector<float> device_y = y.download();
      EXPECT_TRUE(all_close(device_y, ref_y, atol_per_k * std::sqrt(double(in)), rtol)) << "max(x·W0ᵀ + b0, 0)";

      std::vector<float> grad_out(activations), grad_w1(w1.size()), grad_b1(static_cast<std::size_t>(out)),
          ref_delta(activations), ref_gb(static_cast<std::size_t>(hidden));
      ref::linear_backward(device_y.data(), w1.data(), grad_y.data(), grad_out.data(), grad_w1.data(), grad_b1.data(),
                           batch, hidden, out);
      ref::activation_backward(Activation::relu, device_y.data(), grad_out.data(), ref_delta.data(), activations);
      ref::bias_gradient(ref_delta.data(), ref_gb.data(), batch, hidden);
      EXPECT_TRUE(all_close(delta.download(), ref_delta, atol_per_k * std::sqrt(double(out)), rtol)) << "δ";
      EXPECT_TRUE(all_close(gb.download(), ref_gb, atol_per_k * std::sqrt(double(out) * batch), rtol))
          << "∂L/∂b0 = Σ_rows δ, after the mask";
    }
  }
};

// Tolerances as the plain products' (LinearTest); the bias gradient sums B of δ's errors.
TEST_F(EpilogueTest, ReluLayerMatchesReferenceInFp32) {
  check_relu_layer(Precision::fp32, 1e-6, 1e-6);
}
TEST_F(EpilogueTest, ReluLayerMatchesReferenceInTf32) {
  check_relu_layer(Precision::tf32, 2e-3, 2e-3);
}

}  // namespace
}  // namespace mlptune
