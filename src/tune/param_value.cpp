// Text form of a hyperparameter value: integers as written, reals in their shortest exact form.
#include <string>

#include "common/number_text.hpp"
#include "mlptune/tune/search_space.hpp"

namespace mlptune::tune {
namespace {

struct ValueText {
  std::string operator()(std::int64_t value) const { return std::to_string(value); }
  std::string operator()(double value) const { return shortest_text(value); }
  std::string operator()(const std::string& value) const { return value; }
};

}  // namespace

std::string to_string(const ParamValue& value) {
  return std::visit(ValueText{}, value);
}

}  // namespace mlptune::tune
