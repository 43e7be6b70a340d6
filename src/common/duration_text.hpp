// Durations as people write them: "90s", "10m", "1h30m", "2h", or plain seconds ("600", "1.5"),
// read for --timeout and mlptune.timeout, and written back as "1m15s".
#pragma once

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace mlptune {

// What the readers of a duration accept, for their messages.
inline constexpr std::string_view kDurationForms = "a duration such as 90s, 10m, 1h30m or 2h, or plain seconds";

// Seconds, or nullopt for text that is no duration: hours, minutes and seconds in that order, each
// at most once, each a non-negative decimal number; or one number of seconds without a unit.
inline std::optional<double> parse_duration(std::string_view text) {
  constexpr std::string_view units = "hms";
  constexpr double unit_seconds[] = {3600.0, 60.0, 1.0};
  double total = 0.0;
  std::size_t next_unit = 0, at = 0;
  while (at < text.size()) {
    const std::size_t start = at;
    while (at < text.size() && (std::isdigit(static_cast<unsigned char>(text[at])) || text[at] == '.')) ++at;
    if (at == start) return std::nullopt;
    const std::string number(text.substr(start, at - start));
    char* end = nullptr;
    const double value = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size()) return std::nullopt;  // "1.2.3"
    if (at == text.size() && start == 0) return value;               // plain seconds
    const std::size_t unit = at < text.size() ? units.find(text[at], next_unit) : std::string_view::npos;
    if (unit == std::string_view::npos) return std::nullopt;  // no unit, an unknown one, or out of order
    total += value * unit_seconds[unit];
    next_unit = unit + 1;
    ++at;
  }
  if (text.empty()) return std::nullopt;
  return total;
}

// 75.2 -> "1m15s"; under a minute with a tenth: "4.5s"; from an hour on, minutes: "1h30m".
inline std::string duration_text(double seconds) {
  char text[48];
  if (seconds < 60) {
    std::snprintf(text, sizeof text, "%.1fs", seconds);
    return text;
  }
  const auto whole = std::int64_t(seconds + 0.5);
  if (whole < 3600)
    std::snprintf(text, sizeof text, "%lldm%02llds", (long long)(whole / 60), (long long)(whole % 60));
  else
    std::snprintf(text, sizeof text, "%lldh%02lldm", (long long)(whole / 3600), (long long)(whole % 3600 / 60));
  return text;
}

}  // namespace mlptune
