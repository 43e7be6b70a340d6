// Which OpenBLAS kernels the CPU backend runs. Debian's OpenBLAS 0.3.21 (a DYNAMIC_ARCH build)
// picks its kernels by CPU model at load time, and it does not know some AVX-512 CPUs (AMD Zen 4
// among them): there it runs its AVX2 Haswell kernels, though its SkylakeX kernels run correctly and
// faster. The library reads OPENBLAS_CORETYPE only when it loads, so mlptune sets the variable and
// starts itself again once, before it does anything else.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mlptune::cpu {

struct BlasChoice {
  bool cpu_has_avx512 = false;   // AVX-512 F, BW, DQ and VL, with the OS saving their registers
  bool dynamic_arch = false;     // the library chooses kernels at load time (and reads the variable)
  bool user_chose = false;       // OPENBLAS_CORETYPE is already set: the user's choice stands
  std::string_view loaded_core;  // the kernels the library chose, as openblas_get_corename() names them
};

// The OPENBLAS_CORETYPE to start again with, or nullopt where the loaded kernels stay.
std::optional<std::string> better_openblas_coretype(const BlasChoice& choice);

// The facts above for this process and its OpenBLAS.
BlasChoice current_blas_choice();

// "Haswell", "SkylakeX", ...: the kernels this process runs.
std::string openblas_core();

// Starts this program again (argv as main got it) with OPENBLAS_CORETYPE set where
// better_openblas_coretype says so; returns where it does not, or where the start fails (then the
// loaded kernels serve).
void restart_with_better_blas_kernels(char** argv);

}  // namespace mlptune::cpu
