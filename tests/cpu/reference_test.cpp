// The reference math: gradients against central differences in double precision, forward values
// against formulas, the permutations, gathers, metrics and the initial parameters.
#include "cpu/reference.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <set>
#include <vector>

#include "common/counter_rng.hpp"
#include "reference_mlp.hpp"

namespace mlptune {
namespace {

// Central differences in double with step 1e-6: truncation error ~h²·|f'''| ≈ 1e-12 and rounding
// ~1e-16/h ≈ 1e-10, so analytic and numeric derivatives agree to far better than 1e-7; a wrong
// formula is off by O(1e-2) or more.
constexpr double kStep = 1e-6;
constexpr double kGradientTolerance = 1e-7;

double central_difference(const std::function<double(double)>& f, double x) {
  return (f(x + kStep) - f(x - kStep)) / (2 * kStep);
}

std::vector<double> random_values(std::size_t count, std::uint32_t seed, double low = -1.0, double high = 1.0) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<double> distribution(low, high);
  std::vector<double> values(count);
  for (double& value : values) value = distribution(engine);
  return values;
}

// Checks the analytic gradient of `loss` with respect to every element of `values`.
void expect_gradient_matches(std::vector<double>& values, const std::vector<double>& analytic,
                             const std::function<double()>& loss, const char* what) {
  ASSERT_EQ(values.size(), analytic.size()) << what;
  double analytic_norm = 0;
  for (std::size_t k = 0; k < values.size(); ++k) {
    const double saved = values[k];
    const double numeric = central_difference(
        [&](double v) {
          values[k] = v;
          return loss();
        },
        saved);
    values[k] = saved;
    EXPECT_NEAR(analytic[k], numeric, kGradientTolerance * (1 + std::abs(numeric))) << what << " element " << k;
    analytic_norm += std::abs(analytic[k]);
  }
  EXPECT_GT(analytic_norm, 1e-3) << what << ": an all-zero gradient proves nothing";
}

constexpr Activation kActivations[] = {Activation::relu, Activation::tanh, Activation::sigmoid, Activation::gelu,
                                       Activation::identity};

TEST(ReferenceActivation, DerivativesMatchCentralDifferences) {
  // Points away from relu's kink at 0, where the central difference straddles two slopes.
  const std::vector<double> points = {-3.7, -1.2, -0.31, 0.05, 0.49, 1.3, 2.9};
  for (Activation activation : kActivations)
    for (double z : points) {
      const double numeric = central_difference([&](double v) { return ref::activate(activation, v); }, z);
      EXPECT_NEAR(ref::activate_derivative(activation, z), numeric, kGradientTolerance)
          << to_string(activation) << " at " << z;
    }
}

TEST(ReferenceActivation, ValuesMatchTheirFormulas) {
  // Exact formulas in double; 1e-15 allows for the order of the operations.
  for (double z : {-2.5, -0.4, 0.0, 0.7, 3.1}) {
    EXPECT_DOUBLE_EQ(ref::activate(Activation::relu, z), std::max(z, 0.0));
    EXPECT_NEAR(ref::activate(Activation::tanh, z), std::tanh(z), 1e-15);
    EXPECT_NEAR(ref::activate(Activation::sigmoid, z), 1 / (1 + std::exp(-z)), 1e-15);
    const double gelu = 0.5 * z * (1 + std::tanh(std::sqrt(2 / M_PI) * (z + 0.044715 * z * z * z)));
    EXPECT_NEAR(ref::activate(Activation::gelu, z), gelu, 1e-15);
    EXPECT_DOUBLE_EQ(ref::activate(Activation::identity, z), z);
  }
}

TEST(ReferenceActivation, FusedBiasActivationAndBackwardAgreeWithTheScalarFunctions) {
  const int batch = 3, width = 5;
  const std::vector<double> z = random_values(batch * width, 1, -2, 2), bias = random_values(width, 2);
  const std::vector<double> grad_out = random_values(batch * width, 3);
  for (Activation activation : kActivations) {
    std::vector<double> pre(z.size(), NAN), out(z.size(), NAN), grad_pre(z.size(), NAN);
    ref::bias_activation_forward(activation, z.data(), bias.data(), pre.data(), out.data(), batch, width);
    ref::activation_backward(activation, pre.data(), grad_out.data(), grad_pre.data(), pre.size());
    for (int b = 0; b < batch; ++b)
      for (int c = 0; c < width; ++c) {
        const std::size_t k = std::size_t(b) * width + c;
        EXPECT_DOUBLE_EQ(pre[k], z[k] + bias[c]);
        EXPECT_DOUBLE_EQ(out[k], ref::activate(activation, pre[k])) << to_string(activation);
        EXPECT_DOUBLE_EQ(grad_pre[k], grad_out[k] * ref::activate_derivative(activation, pre[k]));
      }
  }
}

TEST(ReferenceLinear, ForwardMatchesTheDotProducts) {
  const int batch = 3, in = 5, out = 4;
  const std::vector<double> x = random_values(batch * in, 4), w = random_values(out * in, 5), b = random_values(out, 6);
  std::vector<double> y(batch * out, NAN);
  ref::linear_forward(x.data(), w.data(), b.data(), y.data(), batch, in, out);
  // Row 2, output 3 written out by hand: b[3] + Σ_i x[2, i]·W[3, i].
  double expected = b[3];
  for (int i = 0; i < in; ++i) expected += x[2 * in + i] * w[3 * in + i];
  EXPECT_NEAR(y[2 * out + 3], expected, 1e-15);
}

// Loss L = Σ c ⊙ y with fixed random c, so d L / d y = c.
TEST(ReferenceLinear, BackwardMatchesCentralDifferences) {
  const int batch = 3, in = 5, out = 4;
  std::vector<double> x = random_values(batch * in, 7), w = random_values(out * in, 8), b = random_values(out, 9);
  const std::vector<double> c = random_values(batch * out, 10);
  auto loss = [&] {
    std::vector<double> y(batch * out);
    ref::linear_forward(x.data(), w.data(), b.data(), y.data(), batch, in, out);
    double sum = 0;
    for (std::size_t k = 0; k < y.size(); ++k) sum += c[k] * y[k];
    return sum;
  };
  std::vector<double> grad_x(x.size(), NAN), grad_w(w.size(), NAN), grad_b(b.size(), NAN);
  ref::linear_backward(x.data(), w.data(), c.data(), grad_x.data(), grad_w.data(), grad_b.data(), batch, in, out);
  expect_gradient_matches(x, grad_x, loss, "grad_x");
  expect_gradient_matches(w, grad_w, loss, "grad_weight");
  expect_gradient_matches(b, grad_b, loss, "grad_bias");

  std::vector<double> bias_only(out, NAN);
  ref::bias_gradient(c.data(), bias_only.data(), batch, out);
  EXPECT_EQ(bias_only, grad_b);
}

TEST(ReferenceLoss, SoftmaxCrossEntropyGradientMatchesCentralDifferences) {
  const int batch = 4, classes = 5;
  std::vector<double> logits = random_values(batch * classes, 11, -3, 3);
  const std::vector<std::int32_t> labels = {0, 4, 2, 2};
  std::vector<double> sample_loss(batch), grad(logits.size(), NAN);
  auto mean_loss = [&] {
    std::vector<double> scratch(logits.size());
    ref::softmax_cross_entropy(logits.data(), labels.data(), sample_loss.data(), scratch.data(), batch, classes);
    return (sample_loss[0] + sample_loss[1] + sample_loss[2] + sample_loss[3]) / batch;
  };
  ref::softmax_cross_entropy(logits.data(), labels.data(), sample_loss.data(), grad.data(), batch, classes);
  // Sample 1 by the textbook formula: log Σ exp(l) - l[label].
  double exp_sum = 0;
  for (int c = 0; c < classes; ++c) exp_sum += std::exp(logits[classes + c]);
  EXPECT_NEAR(sample_loss[1], std::log(exp_sum) - logits[classes + 4], 1e-14);
  expect_gradient_matches(logits, grad, mean_loss, "softmax cross-entropy");
}

TEST(ReferenceLoss, SoftmaxCrossEntropyStaysFiniteForHugeLogits) {
  // exp(1000) overflows; log-sum-exp does not. Loss of the label at 1000 vs others at 0, 990:
  // log(1 + e^-1000 + e^-10) ≈ e^-10.
  const std::vector<float> logits = {1000.0f, 0.0f, 990.0f};
  const std::int32_t label = 0;
  float loss = NAN;
  std::vector<float> grad(3, NAN);
  ref::softmax_cross_entropy(logits.data(), &label, &loss, grad.data(), 1, 3);
  EXPECT_NEAR(loss, std::exp(-10.0), 1e-6);  // float Σ exp = 1 + e^-10 is rounded to 1.2e-7
  for (float g : grad) EXPECT_TRUE(std::isfinite(g));
}

TEST(ReferenceLoss, MeanSquaredErrorGradientMatchesCentralDifferences) {
  const int batch = 3, width = 2;
  std::vector<double> pred = random_values(batch * width, 12);
  const std::vector<double> target = random_values(batch * width, 13);
  std::vector<double> sample_loss(batch), grad(pred.size(), NAN);
  auto mean_loss = [&] {
    std::vector<double> scratch(pred.size());
    ref::mean_squared_error(pred.data(), target.data(), sample_loss.data(), scratch.data(), batch, width);
    return (sample_loss[0] + sample_loss[1] + sample_loss[2]) / batch;
  };
  ref::mean_squared_error(pred.data(), target.data(), sample_loss.data(), grad.data(), batch, width);
  const double d0 = pred[4] - target[4], d1 = pred[5] - target[5];
  EXPECT_NEAR(sample_loss[2], (d0 * d0 + d1 * d1) / 2, 1e-15);
  expect_gradient_matches(pred, grad, mean_loss, "mse");
}

// A 2-hidden-layer MLP (4 → 6 → 5 → 3) assembled from the reference functions: every weight and
// bias gradient against central differences, for each activation and both losses.
TEST(ReferenceMlp, WholeNetworkGradientMatchesCentralDifferences) {
  const int batch = 3;
  const std::vector<double> x = random_values(batch * 4, 14, -2, 2);
  const std::vector<std::int32_t> labels = {2, 0, 1};
  const std::vector<double> targets = random_values(batch * 3, 15);
  for (Loss loss : {Loss::softmax_cross_entropy, Loss::mse})
    for (Activation activation : {Activation::tanh, Activation::sigmoid, Activation::gelu, Activation::relu}) {
      ModelSpec model{4, {6, 5}, 3, activation, loss, Init::xavier};
      test::Parameters<double> parameters = test::to_parameters<double>(ref::initialize_weights(model, 3));
      // Non-zero biases so the bias paths matter; relu's kink is hit with probability 0.
      for (std::size_t t = 1; t < parameters.size(); t += 2)
        parameters[t] = random_values(parameters[t].size(), 16 + t);
      test::Parameters<double> gradients;
      test::mlp_loss(model, parameters, x.data(), labels.data(), targets.data(), batch, &gradients);
      for (std::size_t t = 0; t < parameters.size(); ++t) {
        SCOPED_TRACE(std::string(to_string(loss)) + " " + std::string(to_string(activation)) + " tensor " +
                     std::to_string(t));
        expect_gradient_matches(
            parameters[t], gradients[t],
            [&] {
              return test::mlp_loss<double>(model, parameters, x.data(), labels.data(), targets.data(), batch, nullptr);
            },
            "mlp");
      }
    }
}

TEST(ReferenceShuffle, EpochPermutationIsADeterministicPermutation) {
  const std::size_t rows = 1009;
  const std::vector<std::uint32_t> order = ref::epoch_permutation(42, 3, rows);
  ASSERT_EQ(order.size(), rows);
  std::vector<std::uint32_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < rows; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_EQ(order, ref::epoch_permutation(42, 3, rows));
  EXPECT_NE(order, ref::epoch_permutation(42, 4, rows));
  EXPECT_NE(order, ref::epoch_permutation(43, 3, rows));
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
}

TEST(ReferenceShuffle, OrderIsByTheDocumentedHash) {
  // The CUDA backend sorts the same keys on the device: the order must be ascending hash.
  const std::uint64_t seed = 7;
  const int epoch = 2;
  const std::vector<std::uint32_t> order = ref::epoch_permutation(seed, epoch, 500);
  for (std::size_t i = 1; i < order.size(); ++i)
    EXPECT_LT(rng::hash(seed, rng::kShuffleStream + epoch, order[i - 1]),
              rng::hash(seed, rng::kShuffleStream + epoch, order[i]));
}

TEST(ReferenceGather, CopiesTheRowsInOrder) {
  const std::vector<float> src = {0, 1, 10, 11, 20, 21, 30, 31};  // (4, 2)
  const std::vector<std::uint32_t> order = {3, 0, 2, 1};
  std::vector<float> dst(4, NAN);
  ref::gather_rows(src.data(), order.data(), 1, 2, 2, dst.data());
  EXPECT_EQ(dst, (std::vector<float>{0, 1, 20, 21}));
}

TEST(ReferenceShuffle, IdentityPermutationCountsUp) {
  EXPECT_EQ(ref::identity_permutation(5), (std::vector<std::uint32_t>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(ref::identity_permutation(0).empty());
}

TEST(ReferenceGather, GatherLabelsFollowsTheOrder) {
  const std::vector<std::int32_t> labels = {7, 8, 9, 6};
  const std::vector<std::uint32_t> order = {3, 0, 2, 1};
  std::vector<std::int32_t> dst(3, -1);
  ref::gather_labels(labels.data(), order.data(), 1, 3, dst.data());
  EXPECT_EQ(dst, (std::vector<std::int32_t>{7, 9, 8}));
}

// Dataset's invariant: features = fma(byte, column_scale, column_offset), so the two gathers agree exactly.
TEST(ReferenceGather, GatherScaledBytesEqualsGatherRowsOfTheScaledFeatures) {
  const std::size_t rows = 5, cols = 3;
  const std::vector<std::uint8_t> raw = {0, 1, 2, 255, 128, 7, 9, 10, 11, 200, 100, 50, 3, 4, 5};
  const std::vector<float> scale = {1.0f / 255.0f, 0.5f, 0.003f};
  const std::vector<float> offset = {-0.5f, 0.25f, -1.0f};
  std::vector<float> features(rows * cols);
  for (std::size_t i = 0; i < features.size(); ++i)
    features[i] = std::fma(float(raw[i]), scale[i % cols], offset[i % cols]);
  const std::vector<std::uint32_t> order = {4, 1, 3, 0, 2};
  std::vector<float> from_rows(4 * cols), from_bytes(4 * cols, NAN);
  ref::gather_rows(features.data(), order.data(), 1, 4, cols, from_rows.data());
  ref::gather_scaled_bytes(raw.data(), scale.data(), offset.data(), order.data(), 1, 4, cols, from_bytes.data());
  EXPECT_EQ(from_bytes, from_rows);
  EXPECT_EQ(from_bytes[0], std::fma(255.0f, scale[0], offset[0]));  // row 1, column 0
}

TEST(ReferenceMetrics, CountCorrectTakesTheFirstMaximum) {
  // (4, 3): a clear winner, a tie won by the first index, a tie the label loses, all equal.
  const std::vector<float> scores = {0.1f, 0.9f, 0.3f, 2.0f, 2.0f, 1.0f, 1.0f, 3.0f, 3.0f, 5.0f, 5.0f, 5.0f};
  const std::vector<std::int32_t> labels = {1, 0, 2, 0};
  std::vector<std::int32_t> correct(4, -1);
  ref::count_correct(scores.data(), labels.data(), correct.data(), 4, 3);
  EXPECT_EQ(correct, (std::vector<std::int32_t>{1, 1, 0, 1}));
}

TEST(ReferenceMetrics, AccumulateMetricsSumsInDoubleAndFlagsTheFirstNonFiniteStep) {
  const std::vector<float> losses = {0.5f, 0.25f, 1e-8f};
  const std::vector<std::int32_t> correct = {1, 0, 1};
  MetricSums sums;
  const std::int64_t step = 41;
  ref::accumulate_metrics(losses.data(), correct.data(), 3, &sums, &step);
  ref::accumulate_metrics(losses.data(), nullptr, 3, &sums, &step);
  EXPECT_EQ(sums.loss_sum, 2 * (0.75 + double(1e-8f)));  // exact: the float losses summed in double
  EXPECT_EQ(sums.correct, 2);
  EXPECT_EQ(sums.samples, 6);
  EXPECT_EQ(sums.nonfinite, 0);

  const std::vector<float> bad = {0.5f, NAN, INFINITY};
  ref::accumulate_metrics(bad.data(), nullptr, 3, &sums, &step);
  const std::int64_t later = 99;
  ref::accumulate_metrics(bad.data(), nullptr, 3, &sums, &later);
  EXPECT_EQ(sums.nonfinite, 1);
  EXPECT_EQ(sums.first_nonfinite_step, 42) << "the step the bad loss belongs to, kept by later bad steps";
  EXPECT_EQ(sums.samples, 12);

  MetricSums evaluation;
  ref::accumulate_metrics(bad.data(), nullptr, 3, &evaluation, nullptr);
  EXPECT_EQ(evaluation.nonfinite, 1);
  EXPECT_EQ(evaluation.first_nonfinite_step, 0) << "no step counter: no step";
}

TEST(ReferenceMetrics, FlagNonfiniteValuesFlagsTheCurrentStepOnce) {
  std::vector<float> values = {1.0f, -2.0f, 3.0f};
  MetricSums sums;
  std::int64_t step = 7;
  ref::flag_nonfinite_values(values.data(), values.size(), &sums, &step);
  EXPECT_EQ(sums.nonfinite, 0) << "all finite: no flag";
  values.back() = -INFINITY;  // the last element: the bounds matter
  ref::flag_nonfinite_values(values.data(), values.size(), &sums, &step);
  step = 8;
  values[0] = NAN;
  ref::flag_nonfinite_values(values.data(), values.size(), &sums, &step);
  EXPECT_EQ(sums.nonfinite, 1);
  EXPECT_EQ(sums.first_nonfinite_step, 7) << "the first flagging step stays";
  EXPECT_EQ(sums.samples, 0) << "a check, not a pass: nothing is counted";
}

TEST(ReferenceInit, InitializeWeightsGivesNamesShapesAndZeroBiases) {
  const ModelSpec model{5, {7}, 3, Activation::relu, Loss::softmax_cross_entropy, Init::he};
  const std::vector<Tensor> tensors = ref::initialize_weights(model, 1);
  ASSERT_EQ(tensors.size(), 4u);
  EXPECT_EQ(tensors[0].name, "layers.0.weight");
  EXPECT_EQ(tensors[0].shape, (std::vector<std::int64_t>{7, 5}));
  EXPECT_EQ(tensors[1].name, "layers.0.bias");
  EXPECT_EQ(tensors[1].shape, (std::vector<std::int64_t>{7}));
  EXPECT_EQ(tensors[2].name, "layers.1.weight");
  EXPECT_EQ(tensors[2].shape, (std::vector<std::int64_t>{3, 7}));
  EXPECT_EQ(tensors[3].name, "layers.1.bias");
  for (const Tensor& tensor : {tensors[1], tensors[3]})
    for (float value : tensor.data) EXPECT_EQ(value, 0.0f);
}

TEST(ReferenceInit, InitializeWeightsFollowsTheDocumentedFormula) {
  const std::uint64_t seed = 9;
  for (Init init : {Init::he, Init::xavier}) {
    const ModelSpec model{6, {4}, 2, Activation::relu, Loss::softmax_cross_entropy, init};
    const std::vector<Tensor> tensors = ref::initialize_weights(model, seed);
    const std::uint64_t stream = rng::kInitStream + 2 * 1;  // layer 1: (2, 4)
    for (std::uint64_t j = 0; j < 8; ++j) {
      const float expected =
          init == Init::he
              ? std::sqrt(2.0f / 4) * rng::normal(rng::hash(seed, stream, j), rng::hash(seed, stream + 1, j))
              : std::sqrt(6.0f / (4 + 2)) * (2 * rng::uniform01(rng::hash(seed, stream, j)) - 1);
      // float products of the same factors, rounded in a possibly different order: 1 ulp.
      EXPECT_NEAR(tensors[2].data[j], expected, 1e-6f * std::abs(expected)) << to_string(init) << " element " << j;
    }
    EXPECT_NE(tensors[0].data, ref::initialize_weights(model, seed + 1)[0].data);
  }
}

TEST(ReferenceInit, HeWeightsHaveTheirStandardDeviation) {
  const ModelSpec model{784, {}, 256, Activation::relu, Loss::softmax_cross_entropy, Init::he};
  const std::vector<Tensor> tensors = ref::initialize_weights(model, 5);
  const std::vector<float>& weights = tensors[0].data;
  double sum = 0, squares = 0;
  for (float w : weights) {
    sum += w;
    squares += double(w) * w;
  }
  const double n = double(weights.size()), mean = sum / n, stddev = std::sqrt(squares / n - mean * mean);
  // 200,704 normal samples: the sample stddev is within ~0.2% of the truth (1/sqrt(2n)); 1% leaves room.
  EXPECT_NEAR(stddev, std::sqrt(2.0 / 784), 0.01 * std::sqrt(2.0 / 784));
  EXPECT_NEAR(mean, 0.0, 0.01 * std::sqrt(2.0 / 784));
}

}  // namespace
}  // namespace mlptune
