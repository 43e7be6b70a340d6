// FlushSubnormals: subnormal results and inputs are zero inside its scope, and the thread's
// floating-point mode is as it was outside.
#include "cpu/subnormals.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace mlptune::cpu {
namespace {

// Through volatile copies: the compiler must multiply at run time, under the mode in force.
float times(float a, float b) {
  volatile float x = a, y = b;
  return x * y;
}

TEST(FlushSubnormals, FlushesInsideItsScopeAndRestoresTheModeAfter) {
#if !defined(__SSE2__)
  GTEST_SKIP() << "flushing is implemented for x86 (MXCSR) only";
#endif
  const float smallest_normal = std::numeric_limits<float>::min();  // 1.18e-38
  const float subnormal = smallest_normal / 64;
  ASSERT_GT(subnormal, 0.0f) << "this thread already flushes subnormals, so nothing can be seen";
  EXPECT_GT(times(smallest_normal, 0.5f), 0.0f);
  {
    const FlushSubnormals flush;
    EXPECT_EQ(times(smallest_normal, 0.5f), 0.0f) << "a subnormal result is flushed to zero";
    EXPECT_EQ(times(subnormal, 1e30f), 0.0f) << "a subnormal input is read as zero";
    {
      const FlushSubnormals nested;
      EXPECT_EQ(times(smallest_normal, 0.5f), 0.0f);
    }
    EXPECT_EQ(times(smallest_normal, 0.5f), 0.0f) << "an inner scope restores the outer one's mode";
  }
  EXPECT_EQ(times(smallest_normal, 0.5f), smallest_normal / 2) << "the mode before is restored";
  EXPECT_GT(times(subnormal, 1e30f), 1e-10f);
}

}  // namespace
}  // namespace mlptune::cpu
