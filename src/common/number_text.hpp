// The shortest text of a number that reads back as the same value: "0.1", "-1e-05", "3", "inf",
// "nan". A float gives its own shortest form (3e+38f is "3e+38", not its double's digits).
#pragma once

#include <charconv>
#include <string>
#include <type_traits>

namespace mlptune {

template <class Real>
requires std::is_floating_point_v<Real>
inline std::string shortest_text(Real value) {
  char buffer[32];  // the longest shortest form, "-2.2250738585072014e-308", has 24 characters
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

}  // namespace mlptune
