// Lists as text: items joined by a separator ("relu, tanh", "256,128"), or as a choice ("relu,
// tanh or gelu"). Every list a message, a flag's value or --help prints is joined here.
#pragma once

#include <cstddef>
#include <functional>
#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/number_text.hpp"

namespace mlptune {

// Whole numbers as digits, reals in their shortest exact form, names as they are.
template <class Item>
std::string item_text(const Item& item) {
  if constexpr (std::is_floating_point_v<Item>) {
    return shortest_text(item);
  } else if constexpr (std::is_arithmetic_v<Item>) {
    return std::to_string(item);
  } else {
    return std::string(item);
  }
}

// `project` picks the text of an item (a dataset's name, say): join(sets, ", ", &Set::name).
template <class Items, class Project = std::identity>
std::string join(const Items& items, std::string_view separator, Project project = {}) {
  std::string text;
  bool first = true;
  for (const auto& item : items) {
    if (!first) text += separator;
    text += item_text(std::invoke(project, item));
    first = false;
  }
  return text;
}

// "a", "a or b", "a, b or c".
template <class Items>
std::string join_or(const Items& items) {
  const std::size_t count = std::size(items);
  std::string text;
  std::size_t index = 0;
  for (const auto& item : items) {
    if (index > 0) text += index + 1 == count ? " or " : ", ";
    text += item_text(item);
    ++index;
  }
  return text;
}

}  // namespace mlptune
