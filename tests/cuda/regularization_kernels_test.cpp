// Dropout in the activation kernels and the gradient-clipping kernels against ref::dropout_forward /
// dropout_backward and ref::clip_gradient_norm, over odd sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "activation.cuh"
#include "cpu/reference.hpp"
#include "cuda/device_trial.hpp"
#include "gpu_test_support.hpp"
#include "gradient_clip.cuh"

namespace mlptune {
namespace {

using test::all_close;
using test::DeviceArray;
using test::GpuTest;

const std::vector<std::size_t> kCounts = {1, 31, 33, 509, 269322};

cuda::DeviceTrial record_with(float dropout, double clip_norm, std::int64_t steps_taken) {
  cuda::DeviceTrial record;
  record.seed = 0xD2D2D2D2D2ull;
  record.dropout = dropout;
  record.clip_norm = clip_norm;
  record.step = steps_taken;
  return record;
}

// The mask is the same integer decision on both sides and the kept value one float multiply by
// the same float scale: equal bit for bit. Through the identity's kernels, whose zero bias and unit
// derivative are exact, with the elements as one row and as one column.
class DropoutTest : public GpuTest {
 protected:
  // out = dropout(x + 0) and back = dropout(x) · 1, for the mask of `layer` at the record's step.
  void run(const cuda::DeviceTrial* record, int layer, const std::vector<float>& x, int batch, int width,
           DeviceArray<float>& out, DeviceArray<float>& back) {
    DeviceArray<float> pre(x), zero_bias(std::vector<float>(static_cast<std::size_t>(width), 0.0f)),
        bias_grad(static_cast<std::size_t>(width));
    back.upload(x);
    const kernels::DropoutMask mask{record, layer};
    kernels::bias_activation_forward(Activation::identity, pre.get(), zero_bias.get(), out.get(), batch, width,
                                     stream(), mask);
    kernels::activation_bias_gradient(Activation::identity, pre.get(), back.get(), bias_grad.get(), batch, width,
                                      stream(), mask);
  }
};

TEST_F(DropoutTest, ForwardAndBackwardEqualTheReference) {
  for (const std::size_t count : kCounts) {
    for (const int layer : {0, 2}) {
      for (const bool one_column : {false, true}) {
        SCOPED_TRACE("n=" + std::to_string(count) + " layer " + std::to_string(layer) +
                     (one_column ? " as a column" : " as a row"));
        const cuda::DeviceTrial host = record_with(0.3f, 0.0, 17);
        DeviceArray<cuda::DeviceTrial> record(std::vector<cuda::DeviceTrial>{host});
        const std::vector<float> x = test::random_floats(count, 41);
        DeviceArray<float> out(count), back(count);
        const int rows = one_column ? static_cast<int>(count) : 1;
        run(record.get(), layer, x, rows, static_cast<int>(count) / rows, out, back);
        std::vector<float> expected(count);
        ref::dropout_forward(x.data(), expected.data(), count, host.dropout, host.seed, host.step, layer);
        EXPECT_EQ(out.download(), expected);
        ref::dropout_backward(x.data(), expected.data(), count, host.dropout, host.seed, host.step, layer);
        EXPECT_EQ(back.download(), expected);
      }
    }
  }
}

TEST_F(DropoutTest, TheMaskFollowsTheRecordsStep) {
  const std::size_t count = 4096;
  const std::vector<float> x(count, 1.0f);
  DeviceArray<float> first(count), second(count), back(count);
  DeviceArray<cuda::DeviceTrial> record(std::vector<cuda::DeviceTrial>{record_with(0.5f, 0.0, 3)});
  run(record.get(), 0, x, 64, 64, first, back);
  record.upload({record_with(0.5f, 0.0, 4)});
  run(record.get(), 0, x, 64, 64, second, back);
  EXPECT_NE(first.download(), second.download()) << "a graph replayed at the next step draws a new mask";
}

// The sum of squares is in double on both sides, in different orders: about 1e-15 relative. The
// scaled gradients round one double product to float: equal within 1 ulp (1.2e-7 relative).
class GradientClipTest : public GpuTest {};

TEST_F(GradientClipTest, ClippingMatchesTheReference) {
  for (const std::size_t count : kCounts) {
    for (const double fraction : {0.25, 4.0}) {  // a limit below the norm, and one above it
      SCOPED_TRACE("n=" + std::to_string(count) + " max_norm = " + std::to_string(fraction) + " x norm");
      std::vector<float> gradients = test::random_floats(count, 43);
      double squares = 0.0;
      for (float g : gradients) squares += double(g) * g;
      const double max_norm = fraction * std::sqrt(squares);
      DeviceArray<float> device_gradients(gradients);
      DeviceArray<double> partials(kernels::kGradientNormBlocks);
      DeviceArray<cuda::DeviceTrial> record(std::vector<cuda::DeviceTrial>{record_with(0.0f, max_norm, 0)});
      kernels::clip_gradient_norm(record.get(), device_gradients.get(), count, partials.get(), stream());
      const double norm = ref::clip_gradient_norm(gradients.data(), count, max_norm);
      EXPECT_NEAR(std::sqrt(record.download()[0].gradient_squares), norm, 1e-12 * norm);
      EXPECT_TRUE(all_close(device_gradients.download(), gradients, 0.0, 2.4e-7));
    }
  }
}

TEST_F(GradientClipTest, NothingChangesWithoutALimit) {
  const std::vector<float> gradients = test::random_floats(509, 44, -100.0f, 100.0f);
  DeviceArray<float> device_gradients(gradients);
  DeviceArray<double> partials(kernels::kGradientNormBlocks);
  DeviceArray<cuda::DeviceTrial> record(std::vector<cuda::DeviceTrial>{record_with(0.0f, 0.0, 0)});
  kernels::clip_gradient_norm(record.get(), device_gradients.get(), gradients.size(), partials.get(), stream());
  EXPECT_EQ(device_gradients.download(), gradients);
}

}  // namespace
}  // namespace mlptune
