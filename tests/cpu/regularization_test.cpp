// Dropout and gradient clipping in the reference math: the counter-RNG mask, inverted scaling,
// the backward pass by central differences with the mask held fixed, and clip_grad_norm_'s rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "common/counter_rng.hpp"
#include "cpu/reference.hpp"

namespace mlptune::ref {
namespace {

constexpr std::uint64_t kSeed = 20261201;

std::vector<double> random_values(std::size_t count, std::uint32_t seed) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<double> distribution(-1.0, 1.0);
  std::vector<double> values(count);
  for (double& value : values) value = distribution(engine);
  return values;
}

std::size_t kept(std::uint64_t seed, std::int64_t step, int layer, std::size_t count, float rate) {
  std::size_t kept = 0;
  for (std::size_t e = 0; e < count; ++e) kept += rng::dropout_keeps(seed, step, layer, e, rate);
  return kept;
}

// 200,000 draws: the kept share's standard deviation is sqrt(0.3·0.7 / 2e5) ≈ 0.001, so 0.006 is
// six of them.
TEST(Dropout, TheMaskKeepsOneMinusTheRateAndChangesWithStepLayerAndSeed) {
  constexpr std::size_t kCount = 200000;
  EXPECT_NEAR(double(kept(kSeed, 7, 1, kCount, 0.3f)) / kCount, 0.7, 0.006);
  EXPECT_EQ(kept(kSeed, 7, 1, kCount, 0.0f), kCount) << "rate 0 keeps every element";
  std::size_t differ_step = 0, differ_layer = 0, differ_seed = 0;
  for (std::size_t e = 0; e < 1000; ++e) {
    const bool base = rng::dropout_keeps(kSeed, 7, 1, e, 0.5f);
    EXPECT_EQ(base, rng::dropout_keeps(kSeed, 7, 1, e, 0.5f)) << "a pure function";
    differ_step += base != rng::dropout_keeps(kSeed, 8, 1, e, 0.5f);
    differ_layer += base != rng::dropout_keeps(kSeed, 7, 2, e, 0.5f);
    differ_seed += base != rng::dropout_keeps(kSeed + 1, 7, 1, e, 0.5f);
  }
  // Independent masks at rate 0.5 differ in about half the elements.
  for (const std::size_t differ : {differ_step, differ_layer, differ_seed}) {
    EXPECT_GT(differ, 400u);
    EXPECT_LT(differ, 600u);
  }
}

TEST(Dropout, KeptElementsAreScaledByOneOverOneMinusTheRateAndTheRestAreZero) {
  const std::vector<double> x = random_values(509, 3);
  std::vector<double> out(x.size());
  dropout_forward(x.data(), out.data(), x.size(), 0.25f, kSeed, 4, 0);
  for (std::size_t e = 0; e < x.size(); ++e) {
    const bool keep = rng::dropout_keeps(kSeed, 4, 0, e, 0.25f);
    EXPECT_EQ(out[e], keep ? x[e] * (1.0 / 0.75) : 0.0) << e;
  }
  std::vector<double> same(x);
  dropout_forward(same.data(), same.data(), same.size(), 0.0f, kSeed, 4, 0);
  EXPECT_EQ(same, x) << "rate 0 is the identity";
}

// x (B, 3) -> linear (4) -> relu -> dropout -> linear (2) -> mean squared error against t, in
// double. The loss's gradient with respect to the first layer's weights, by backpropagation
// through dropout_backward, against central differences with the mask held fixed (the same
// seed, step and layer in every evaluation).
struct TinyNet {
  static constexpr int kBatch = 5, kIn = 3, kHidden = 4, kOut = 2;
  static constexpr float kRate = 0.4f;
  static constexpr std::int64_t kStep = 11;
  std::vector<double> x = random_values(kBatch * kIn, 1), target = random_values(kBatch * kOut, 2);
  std::vector<double> w1 = random_values(kHidden * kIn, 3), b1 = random_values(kHidden, 4);
  std::vector<double> w2 = random_values(kOut * kHidden, 5), b2 = random_values(kOut, 6);

  double loss(std::vector<double>* grad_w1 = nullptr) const {
    std::vector<double> pre(kBatch * kHidden), hidden(pre.size()), dropped(pre.size()), out(kBatch * kOut);
    linear_forward(x.data(), w1.data(), b1.data(), pre.data(), kBatch, kIn, kHidden);
    for (std::size_t i = 0; i < pre.size(); ++i) hidden[i] = activate(Activation::relu, pre[i]);
    dropout_forward(hidden.data(), dropped.data(), dropped.size(), kRate, kSeed, kStep, 0);
    linear_forward(dropped.data(), w2.data(), b2.data(), out.data(), kBatch, kHidden, kOut);
    std::vector<double> sample_loss(kBatch), grad_out(out.size());
    mean_squared_error(out.data(), target.data(), sample_loss.data(), grad_out.data(), kBatch, kOut);
    if (grad_w1) {
      std::vector<double> grad_dropped(dropped.size()), grad_w2(w2.size()), grad_b2(b2.size());
      linear_backward(dropped.data(), w2.data(), grad_out.data(), grad_dropped.data(), grad_w2.data(), grad_b2.data(),
                      kBatch, kHidden, kOut);
      std::vector<double> grad_hidden(hidden.size()), grad_pre(pre.size()), grad_b1(b1.size());
      dropout_backward(grad_dropped.data(), grad_hidden.data(), grad_hidden.size(), kRate, kSeed, kStep, 0);
      activation_backward(Activation::relu, pre.data(), grad_hidden.data(), grad_pre.data(), grad_pre.size());
      grad_w1->assign(w1.size(), 0.0);
      linear_backward(x.data(), w1.data(), grad_pre.data(), static_cast<double*>(nullptr), grad_w1->data(),
                      grad_b1.data(), kBatch, kIn, kHidden);
    }
    double mean = 0.0;
    for (double value : sample_loss) mean += value / kBatch;
    return mean;
  }
};

// Central differences in double with h = 1e-6 err by about h² times the third derivative and
// 1e-16 / h of rounding: well below 1e-7 here (relu's kinks are not within h of these inputs).
TEST(Dropout, BackwardMatchesCentralDifferencesWithTheMaskHeldFixed) {
  TinyNet net;
  std::vector<double> analytic;
  net.loss(&analytic);
  std::size_t dropped = 0;
  for (std::size_t e = 0; e < std::size_t(TinyNet::kBatch * TinyNet::kHidden); ++e)
    dropped += !rng::dropout_keeps(kSeed, TinyNet::kStep, 0, e, TinyNet::kRate);
  ASSERT_GT(dropped, 0u) << "the test needs some dropped elements";
  double largest = 0.0;
  for (std::size_t i = 0; i < net.w1.size(); ++i) {
    const double h = 1e-6, saved = net.w1[i];
    net.w1[i] = saved + h;
    const double up = net.loss();
    net.w1[i] = saved - h;
    const double down = net.loss();
    net.w1[i] = saved;
    EXPECT_NEAR(analytic[i], (up - down) / (2 * h), 1e-7) << "weight " << i;
    largest = std::max(largest, std::abs(analytic[i]));
  }
  EXPECT_GT(largest, 1e-3) << "a gradient that is all zero would pass trivially";
}

// torch.nn.utils.clip_grad_norm_: clip_coef = max_norm / (total_norm + 1e-6), applied when < 1.
TEST(GradientClipping, FollowsClipGradNormOnAHandMadeGradient) {
  // Two "tensors", [1, 2, 2] and [4], in one block: total norm sqrt(1 + 4 + 4 + 16) = 5.
  const std::vector<double> given{1, 2, 2, 4};
  std::vector<double> gradients = given;
  EXPECT_DOUBLE_EQ(clip_gradient_norm(gradients.data(), gradients.size(), 1.0), 5.0);
  const double coefficient = 1.0 / (5.0 + 1e-6);
  for (std::size_t i = 0; i < gradients.size(); ++i) EXPECT_DOUBLE_EQ(gradients[i], given[i] * coefficient);

  std::vector<double> small{1, 2, 2, 4};
  EXPECT_DOUBLE_EQ(clip_gradient_norm(small.data(), small.size(), 10.0), 5.0);
  EXPECT_EQ(small, (std::vector<double>{1, 2, 2, 4})) << "within the limit: untouched";

  std::vector<double> at_limit{1, 2, 2, 4};
  clip_gradient_norm(at_limit.data(), at_limit.size(), 5.0);
  EXPECT_LT(at_limit[3], 4.0) << "at exactly max_norm torch still scales by 5 / (5 + 1e-6)";
  EXPECT_DOUBLE_EQ(at_limit[3], 4.0 * 5.0 / (5.0 + 1e-6));
}

TEST(GradientClipping, TheClippedNormIsMaxNormInFloatToo) {
  std::vector<float> gradients(33);
  for (std::size_t i = 0; i < gradients.size(); ++i) gradients[i] = float(i) - 16.0f;
  const double norm = clip_gradient_norm(gradients.data(), gradients.size(), 0.5);
  EXPECT_GT(norm, 0.5);
  double squares = 0.0;
  for (float g : gradients) squares += double(g) * g;
  EXPECT_NEAR(std::sqrt(squares), 0.5, 1e-6);  // float rounding of 33 values: ~1e-7 relative
}

}  // namespace
}  // namespace mlptune::ref
