// Fuzzes the NumPy .npy loader (features alone, or a FEATURES.npy,LABELS.npy pair) through load_file.
#include "fuzz_support.hpp"

using namespace mlptune;

// The input is one .npy file (its last column is the label), or features, the separator, labels.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto files = fuzz::split_files(data, size);
  if (files.size() > 2) return -1;
  if (files.size() == 1) {
    fuzz::load_plain_and_gzipped({{"features.npy", files[0]}}, LoadOptions{}, SplitOptions{});
    fuzz::load_plain_and_gzipped({{"features.npy", files[0]}}, LoadOptions{.task = Task::regression},
                                 SplitOptions{.scaling = Scaling::minmax, .scale_targets = true});
    return 0;
  }
  fuzz::load_plain_and_gzipped({{"features.npy", files[0]}, {"labels.npy", files[1]}}, LoadOptions{}, SplitOptions{});
  return 0;
}
