// Tensor shapes as text for error messages: "[784, 128]", or NumPy's tuple form "(784, 128)".
#pragma once

#include <string>
#include <vector>

#include "common/text_list.hpp"

namespace mlptune {

template <class Extent>
std::string shape_text(const std::vector<Extent>& shape) {
  std::string text = "[";  // appended, not "[" + ...: GCC 12 warns falsely on that (-Wrestrict, bug 105329)
  text += join(shape, ", ");
  return text + "]";
}

// As Python prints a tuple, so a .npy header's shape reads as written: "(3,)" has one axis.
template <class Extent>
std::string tuple_text(const std::vector<Extent>& shape) {
  std::string text = "(";
  text += join(shape, ", ");
  return text + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace mlptune
