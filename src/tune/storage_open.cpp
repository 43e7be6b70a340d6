// A storage by the --storage text: a PostgreSQL URL, an Optuna-style sqlite:/// URL or the path of
// an SQLite file; and URLs with their password hidden, for messages.
#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>
#include <vector>

#include "mlptune/tune/storage.hpp"

namespace mlptune::tune {
namespace {

constexpr std::array<std::string_view, 2> kPostgresSchemes = {"postgresql", "postgres"};
constexpr std::string_view kSqliteScheme = "sqlite";
constexpr std::string_view kAcceptedForms =
    "give a postgresql:// (or postgres://) URL, an sqlite:///path URL (sqlite:////absolute/path), or the path of "
    "an SQLite file";

// The scheme of "scheme://rest" (RFC 3986: a letter, then letters, digits, '+', '-', '.'), or "".
std::string_view scheme_of(std::string_view location) {
  const std::size_t end = location.find("://");
  if (end == std::string_view::npos || end == 0 || !std::isalpha(static_cast<unsigned char>(location[0]))) return {};
  const std::string_view scheme = location.substr(0, end);
  const bool valid = std::all_of(scheme.begin(), scheme.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
  return valid ? scheme : std::string_view();
}

// Levenshtein distance, case-insensitive: how far a mistyped scheme is from an accepted one.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const bool same =
          std::tolower(static_cast<unsigned char>(a[i - 1])) == std::tolower(static_cast<unsigned char>(b[j - 1]));
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (same ? 0 : 1)});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

// " (did you mean postgresql://?)" for a scheme a typo or two away from an accepted one, else "".
std::string scheme_hint(std::string_view scheme) {
  std::string_view nearest;
  std::size_t nearest_distance = 3;  // more edits than this is another word
  for (const std::string_view accepted : {kPostgresSchemes[0], kPostgresSchemes[1], kSqliteScheme}) {
    const std::size_t distance = edit_distance(scheme, accepted);
    if (distance < nearest_distance) {
      nearest = accepted;
      nearest_distance = distance;
    }
  }
  if (nearest.empty()) return {};
  if (nearest == kSqliteScheme) return " (did you mean sqlite:///?)";
  return " (did you mean postgresql://?)";  // postgres:// is the same; the hint gives the full name
}

// The path in sqlite:///path: sqlite:///foo.db is foo.db, sqlite:////abs/foo.db is /abs/foo.db.
std::filesystem::path sqlite_path(const std::string& location) {
  const std::string prefix = std::string(kSqliteScheme) + ":///";
  if (location.rfind(prefix, 0) != 0 || location.size() == prefix.size())
    throw StorageError(location +
                       ": an sqlite:// URL names a file as sqlite:///relative/path.db or "
                       "sqlite:////absolute/path.db; give one of those, or the file's path alone");
  return location.substr(prefix.size());
}

// Replaces the value after each "password=" (a URL's query, or libpq's "key=value" form).
std::string redact_password_parameters(std::string text) {
  const std::string key = "password=";
  for (std::size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    const bool starts_word = at == 0 || text[at - 1] == '?' || text[at - 1] == '&' || text[at - 1] == ' ';
    if (!starts_word) continue;
    const std::size_t begin = at + key.size();
    const std::size_t end = std::min(text.find_first_of("& ", begin), text.size());
    text.replace(begin, end - begin, "***");
  }
  return text;
}

}  // namespace

bool is_database_url(const std::string& location) {
  const std::string_view scheme = scheme_of(location);
  return std::find(kPostgresSchemes.begin(), kPostgresSchemes.end(), scheme) != kPostgresSchemes.end();
}

// postgresql://user:password@host:port/db?password=... -> postgresql://user:***@host:port/db?password=***
std::string redacted_url(const std::string& url) {
  std::string redacted = url;
  const std::size_t authority = url.find("://");
  if (authority != std::string::npos) {
    const std::size_t begin = authority + 3;
    const std::size_t end = std::min(url.find_first_of("/?#", begin), url.size());
    const std::size_t at = url.rfind('@', end);
    const std::size_t colon = at == std::string::npos || at < begin ? std::string::npos : url.find(':', begin);
    if (colon != std::string::npos && colon < at) redacted = url.substr(0, colon + 1) + "***" + url.substr(at);
  }
  return redact_password_parameters(redacted);
}

std::string redacted_urls(const std::string& text) {
  const auto in_scheme = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  };
  const auto ends_url = [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\'' || c == ',';
  };
  std::string redacted;
  std::size_t copied = 0;
  for (std::size_t marker = text.find("://"); marker != std::string::npos; marker = text.find("://", marker + 3)) {
    std::size_t begin = marker;
    while (begin > copied && in_scheme(text[begin - 1])) --begin;
    std::size_t end = marker + 3;
    while (end < text.size() && !ends_url(text[end])) ++end;
    redacted += text.substr(copied, begin - copied) + redacted_url(text.substr(begin, end - begin));
    copied = end;
    marker = std::max(marker, end - 3);
  }
  return redact_password_parameters(redacted + text.substr(copied));
}

std::optional<std::filesystem::path> sqlite_file_of(const std::string& location) {
  if (is_database_url(location)) return std::nullopt;
  const std::string_view scheme = scheme_of(location);
  if (scheme == kSqliteScheme) return sqlite_path(location);
  if (!scheme.empty())
    throw StorageError(redacted_url(location) + ": mlptune keeps no study in a " + std::string(scheme) + ":// storage" +
                       scheme_hint(scheme) + "; " + std::string(kAcceptedForms));
  return std::filesystem::path(location);
}

std::unique_ptr<Storage> open_storage(const std::string& location, StorageAccess access, const RetryOptions& retry) {
  if (const auto file = sqlite_file_of(location)) return open_sqlite_storage(*file, {.access = access, .retry = retry});
  return open_postgres_storage(location, {.access = access, .retry = retry});
}

}  // namespace mlptune::tune
