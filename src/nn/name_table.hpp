// A table of (enum value, name) pairs: one place per enum for to_string and for parsing with a
// message that lists the accepted names.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/text_list.hpp"
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

  // The entry named `text`, reserved or not; nullptr for a name the table does not hold.
  const NameEntry<Enum>* find(std::string_view text) const {
    for (const auto& entry : entries)
      if (entry.name == text) return &entry;
    return nullptr;
  }

  // Throws ConfigError: "unknown activation 'foo': use relu, tanh, sigmoid, gelu or identity".
  Enum parse(std::string_view text) const {
    const NameEntry<Enum>* entry = find(text);
    if (entry == nullptr)
      throw ConfigError("unknown " + std::string(what) + " '" + std::string(text) + "': use " + accepted_names());
    if (entry->use == NameUse::reserved)
      throw ConfigError(std::string(what) + " " + std::string(text) + " is not supported yet: use " + accepted_names());
    return entry->value;
  }

  // Each accepted value once, by its canonical name: "validation_loss", "validation_accuracy", ...
  std::vector<std::string_view> canonical_names() const {
    std::vector<std::string_view> names;
    for (std::size_t i = 0; i < N; ++i)
      if (entries[i].use == NameUse::accepted && is_canonical(i)) names.push_back(entries[i].name);
    return names;
  }

  // The canonical names, each with its aliases after it, as a choice:
  // "validation_loss (or val_loss), validation_accuracy (or val_accuracy, accuracy) or train_loss".
  std::string accepted_names() const {
    std::vector<std::string> items;
    for (std::size_t i = 0; i < N; ++i)
      if (entries[i].use == NameUse::accepted && is_canonical(i))
        items.push_back(std::string(entries[i].name) + aliases_of(i));
    return join_or(items);
  }

  // The canonical names of the reserved values ("bf16"), which validation refuses by name.
  std::vector<std::string_view> reserved_names() const {
    std::vector<std::string_view> names;
    for (const auto& entry : entries)
      if (entry.use == NameUse::reserved) names.push_back(entry.name);
    return names;
  }

 private:
  bool is_canonical(std::size_t index) const {
    for (std::size_t i = 0; i < index; ++i)
      if (entries[i].value == entries[index].value) return false;
    return true;
  }

  // " (or val_loss, loss)" for the aliases that follow the canonical entry `index`; "" if none.
  std::string aliases_of(std::size_t index) const {
    std::vector<std::string_view> aliases;
    for (std::size_t i = index + 1; i < N; ++i)
      if (entries[i].value == entries[index].value && entries[i].use == NameUse::accepted)
        aliases.push_back(entries[i].name);
    return aliases.empty() ? "" : " (or " + join(aliases, ", ") + ")";
  }
};

}  // namespace mlptune::detail
