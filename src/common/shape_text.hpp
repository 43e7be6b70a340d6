// Tensor shapes as text for error messages: "[784, 128]".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mlptune {

inline std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace mlptune
