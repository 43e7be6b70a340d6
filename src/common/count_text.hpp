// A count with its noun in the right number: "1 trial", "2 trials", "1 epoch", "0 epochs". Every
// count printed in a sentence goes through it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mlptune {

// `plural` defaults to the noun with an "s" ("trial" -> "trials"); pass it for others
// ("process", "processes").
inline std::string count_text(std::int64_t count, std::string_view noun, std::string_view plural = {}) {
  std::string text = std::to_string(count) + " ";
  if (count == 1) return text + std::string(noun);
  return plural.empty() ? text + std::string(noun) + "s" : text + std::string(plural);
}

}  // namespace mlptune
