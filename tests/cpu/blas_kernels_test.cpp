// The choice of OpenBLAS kernels: AVX-512 kernels where the CPU has AVX-512 and the library chose
// others, and never over the user's OPENBLAS_CORETYPE, on a CPU without AVX-512, or with a library
// that does not choose at load time.
#include "cpu/blas_kernels.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace mlptune::cpu {
namespace {

BlasChoice avx512_cpu(std::string_view loaded) {
  return {.cpu_has_avx512 = true, .dynamic_arch = true, .user_chose = false, .loaded_core = loaded};
}

TEST(BlasKernels, AnAvx512CpuOnHaswellOrZenKernelsGetsTheSkylakeXKernels) {
  EXPECT_EQ(better_openblas_coretype(avx512_cpu("Haswell")), "SkylakeX");
  EXPECT_EQ(better_openblas_coretype(avx512_cpu("Zen")), "SkylakeX");  // Zen 4 under 0.3.21
  EXPECT_EQ(better_openblas_coretype(avx512_cpu("Prescott")), "SkylakeX");
}

TEST(BlasKernels, AvxFiveTwelveKernelsAlreadyLoadedStay) {
  for (const char* core : {"SkylakeX", "skylakex", "Cooperlake", "SapphireRapids"})
    EXPECT_EQ(better_openblas_coretype(avx512_cpu(core)), std::nullopt) << core;
}

TEST(BlasKernels, TheUsersChoiceACpuWithoutAvx512AndAFixedBuildStay) {
  BlasChoice user = avx512_cpu("Haswell");
  user.user_chose = true;
  EXPECT_EQ(better_openblas_coretype(user), std::nullopt);
  BlasChoice avx2 = avx512_cpu("Zen");
  avx2.cpu_has_avx512 = false;
  EXPECT_EQ(better_openblas_coretype(avx2), std::nullopt);
  BlasChoice fixed = avx512_cpu("Haswell");
  fixed.dynamic_arch = false;  // built for one CPU: the variable is not read
  EXPECT_EQ(better_openblas_coretype(fixed), std::nullopt);
}

TEST(BlasKernels, ThisProcessDescribesItsLibrary) {
  const BlasChoice here = current_blas_choice();
  EXPECT_FALSE(here.loaded_core.empty());
  EXPECT_EQ(std::string(here.loaded_core), openblas_core());
}

}  // namespace
}  // namespace mlptune::cpu
