#include "cpu/blas_kernels.hpp"

#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>

namespace mlptune::cpu {

namespace {

bool same_name(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

}  // namespace

std::optional<std::string> better_openblas_coretype(const BlasChoice& choice) {
  if (choice.user_chose || !choice.dynamic_arch || !choice.cpu_has_avx512) return std::nullopt;
  // The library's AVX-512 kernels: it chose well.
  constexpr std::array<std::string_view, 3> kAvx512Cores = {"SkylakeX", "Cooperlake", "SapphireRapids"};
  if (std::ranges::any_of(kAvx512Cores, [&](std::string_view core) { return same_name(core, choice.loaded_core); }))
    return std::nullopt;
  return "SkylakeX";
}

BlasChoice current_blas_choice() {
  BlasChoice choice;
#if defined(__x86_64__) || defined(__i386__)
  // libgcc's CPU model checks the OS's XCR0 too: a flag without saved registers reads as absent.
  __builtin_cpu_init();
  choice.cpu_has_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
  choice.dynamic_arch = std::string_view(openblas_get_config()).find("DYNAMIC_ARCH") != std::string_view::npos;
  choice.user_chose = std::getenv("OPENBLAS_CORETYPE") != nullptr;
  choice.loaded_core = openblas_get_corename();
  return choice;
}

std::string openblas_core() {
  return openblas_get_corename();
}

void restart_with_better_blas_kernels(char** argv) {
  const std::optional<std::string> coretype = better_openblas_coretype(current_blas_choice());
  if (!coretype) return;
  setenv("OPENBLAS_CORETYPE", coretype->c_str(), 1);
  execv("/proc/self/exe", argv);
  unsetenv("OPENBLAS_CORETYPE");  // not started again: the variable would misdescribe this process
}

}  // namespace mlptune::cpu
