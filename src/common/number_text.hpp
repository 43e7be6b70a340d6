// The shortest text of a double that reads back as the same value: "0.1", "-1e-05", "3", "inf", "nan".
#pragma once

#include <charconv>
#include <string>

namespace mlptune {

inline std::string shortest_text(double value) {
  char buffer[32];  // the longest shortest form, "-2.2250738585072014e-308", has 24 characters
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

}  // namespace mlptune
