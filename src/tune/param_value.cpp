// Text form of a hyperparameter value: integers as written, reals in their shortest exact form.
#include <charconv>
#include <string>

#include "mlptune/tune/types.hpp"

namespace mlptune::tune {
namespace {

// The shortest text that reads back as the same double ("0.25", "1e-04", "3").
std::string shortest_text(double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

struct ValueText {
  std::string operator()(std::int64_t value) const { return std::to_string(value); }
  std::string operator()(double value) const { return shortest_text(value); }
  std::string operator()(const std::string& value) const { return value; }
};

}  // namespace

std::string to_string(const ParamValue& value) { return std::visit(ValueText{}, value); }

}  // namespace mlptune::tune
