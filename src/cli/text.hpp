// Small text helpers for the command-line output: printf-style formatting, thousands
// separators, durations.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>

#include "common/duration_text.hpp"

namespace mlptune::cli {

[[gnu::format(printf, 1, 2)]] inline std::string format(const char* pattern, ...) {
  va_list args;
  va_start(args, pattern);
  va_list copy;
  va_copy(copy, args);
  const int size = std::vsnprintf(nullptr, 0, pattern, copy);
  va_end(copy);
  std::string text(std::size_t(size > 0 ? size : 0), '\0');
  std::vsnprintf(text.data(), text.size() + 1, pattern, args);
  va_end(args);
  return text;
}

// 269322 -> "269,322"
inline std::string with_commas(std::int64_t value) {
  const std::string digits = std::to_string(value < 0 ? -value : value);
  std::string text = value < 0 ? "-" : "";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return text;
}

// 75.2 -> "1m15s"
inline std::string duration(double seconds) {
  return duration_text(seconds);
}

}  // namespace mlptune::cli
