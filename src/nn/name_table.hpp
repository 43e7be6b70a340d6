// A table of (enum value, name) pairs: one place per enum for to_string and for parsing with a
// message that lists the accepted names.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "mlptune/error.hpp"

namespace mlptune::detail {

template <class Enum, std::size_t N>
struct NameTable {
  std::string_view what;  // e.g. "activation", used in error messages
  std::array<std::pair<Enum, std::string_view>, N> entries;

  std::string_view name_of(Enum value) const {
    for (const auto& [entry, name] : entries)
      if (entry == value) return name;
    return "?";
  }

  // Throws ConfigError: "unknown activation 'foo': use relu, tanh, sigmoid, gelu or identity".
  Enum parse(std::string_view text) const {
    for (const auto& [entry, name] : entries)
      if (name == text) return entry;
    throw ConfigError("unknown " + std::string(what) + " '" + std::string(text) + "': use " + accepted_names());
  }

  std::string accepted_names() const {
    std::string list;
    for (std::size_t i = 0; i < N; ++i) {
      if (i > 0) list += (i + 1 == N) ? " or " : ", ";
      list += entries[i].second;
    }
    return list;
  }
};

}  // namespace mlptune::detail
