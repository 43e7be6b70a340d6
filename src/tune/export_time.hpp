// Unix seconds as text: ISO 8601 in UTC with microseconds, as Optuna writes and reads them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string>

namespace mlptune::tune {

// "2024-05-01T12:34:56.123456+00:00" (separator 'T'), or "2024-05-01 12:34:56.123456" for tables.
inline std::string iso8601_utc(double unix_seconds, bool for_table = false) {
  const auto whole = std::time_t(std::floor(unix_seconds));
  const int micros = std::min(999999, int(std::lround((unix_seconds - double(whole)) * 1e6)));
  std::tm utc{};
  gmtime_r(&whole, &utc);
  char text[64];
  std::snprintf(text, sizeof(text), "%04d-%02d-%02d%c%02d:%02d:%02d.%06d%s", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, for_table ? ' ' : 'T', utc.tm_hour, utc.tm_min, utc.tm_sec, micros,
                for_table ? "" : "+00:00");
  return text;
}

}  // namespace mlptune::tune
