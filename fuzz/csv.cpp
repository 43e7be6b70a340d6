// Fuzzes the CSV / whitespace text-table loader (header detection, cells, label column) through load_file.
#include <array>

#include "fuzz_support.hpp"

using namespace mlptune;

namespace {

// Every input is read the ways `mlptune train --data` can be told to read a table.
struct TableReading {
  LoadOptions load;
  SplitOptions split;
};
const std::array<TableReading, 4> kReadings{{
    {LoadOptions{}, SplitOptions{}},
    {LoadOptions{.label_column = "0", .task = Task::regression},
     SplitOptions{.scaling = Scaling::minmax, .scale_targets = true}},
    {LoadOptions{.label_column = "label", .has_header = true}, SplitOptions{.scaling = Scaling::none}},
    {LoadOptions{.label_column = "-2", .has_header = false, .delimiter = ' '}, SplitOptions{}},
}};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& reading : kReadings)
    fuzz::load_plain_and_gzipped({{"table.csv", text}}, reading.load, reading.split);
  return 0;
}
