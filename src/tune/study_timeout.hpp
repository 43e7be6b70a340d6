// A study's time budget: one reading for the --timeout flag and the study YAML's mlptune.timeout.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/duration_text.hpp"
#include "common/value_range.hpp"

namespace mlptune::tune {

inline constexpr Range kTimeoutSeconds{0.0, false};  // > 0 and finite

// Seconds within kTimeoutSeconds, or nullopt.
inline std::optional<double> parse_timeout(std::string_view text) {
  const std::optional<double> seconds = parse_duration(text);
  if (!seconds || !kTimeoutSeconds.contains(*seconds)) return std::nullopt;
  return seconds;
}

// What is wrong with text parse_timeout refused, and how to write it.
inline std::string timeout_problem(std::string_view text) {
  std::string problem = "must be ";
  problem += kDurationForms;
  problem += ", more than 0 (got ";
  problem += text;
  return problem + ")";
}

}  // namespace mlptune::tune
