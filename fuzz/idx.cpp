// Fuzzes the IDX loader (MNIST's images and labels files, plain and gzip) through load_file.
#include "fuzz_support.hpp"

using namespace mlptune;

// The input is the images file, the separator, then the labels file.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto files = fuzz::split_files(data, size);
  if (files.size() != 2) return -1;  // not an IMAGES,LABELS pair: keep out of the corpus
  fuzz::load_plain_and_gzipped({{"images-idx3-ubyte", files[0]}, {"labels-idx1-ubyte", files[1]}}, LoadOptions{},
                               SplitOptions{.scaling = Scaling::minmax});
  return 0;
}
