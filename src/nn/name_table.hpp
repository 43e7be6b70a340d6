// A table of (enum value, name) pairs: one place per enum for to_string and for parsing with a
// message that lists the accepted names.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "mlptune/error.hpp"

namespace mlptune::detail {

// accepted: parse() takes it. reserved: a name kept for a value not supported yet; parse() refuses
// it saying so, and the accepted list leaves it out.
enum class NameUse { accepted, reserved };

template <class Enum>
struct NameEntry {
  Enum value;
  std::string_view name;
  NameUse use = NameUse::accepted;
};

// The first entry of a value holds its canonical name; later entries of the same value are aliases.
template <class Enum, std::size_t N>
struct NameTable {
  std::string_view what;  // e.g. "activation", used in error messages
  std::array<NameEntry<Enum>, N> entries;

  std::string_view name_of(Enum value) const {
    for (const auto& entry : entries)
      if (entry.value == value) return entry.name;
    return "?";
  }

  // Throws ConfigError: "unknown activation 'foo': use relu, tanh, sigmoid, gelu or identity".
  Enum parse(std::string_view text) const {
    for (const auto& entry : entries) {
      if (entry.name != text) continue;
      if (entry.use == NameUse::reserved)
        throw ConfigError(std::string(what) + " " + std::string(text) + " is not supported yet: use " +
                          accepted_names());
      return entry.value;
    }
    throw ConfigError("unknown " + std::string(what) + " '" + std::string(text) + "': use " + accepted_names());
  }

  // Each accepted value once, by its canonical name, with its aliases after it:
  // "validation_loss (or val_loss), validation_accuracy (or val_accuracy, accuracy) or train_loss".
  std::string accepted_names() const {
    std::array<std::string, N> items;
    std::size_t count = 0;
    for (std::size_t i = 0; i < N; ++i) {
      if (entries[i].use != NameUse::accepted || !is_canonical(i)) continue;
      items[count++] = std::string(entries[i].name) + aliases_of(i);
    }
    std::string list;
    for (std::size_t i = 0; i < count; ++i) {
      if (i > 0) list += (i + 1 == count) ? " or " : ", ";
      list += items[i];
    }
    return list;
  }

 private:
  bool is_canonical(std::size_t index) const {
    for (std::size_t i = 0; i < index; ++i)
      if (entries[i].value == entries[index].value) return false;
    return true;
  }

  // " (or val_loss, loss)" for the aliases that follow the canonical entry `index`; "" if none.
  std::string aliases_of(std::size_t index) const {
    std::string aliases;
    for (std::size_t i = index + 1; i < N; ++i)
      if (entries[i].value == entries[index].value && entries[i].use == NameUse::accepted)
        aliases += (aliases.empty() ? "" : ", ") + std::string(entries[i].name);
    return aliases.empty() ? "" : " (or " + aliases + ")";
  }
};

}  // namespace mlptune::detail
