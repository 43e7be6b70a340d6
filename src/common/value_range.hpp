// An interval of accepted real values and its wording, shared by every check that states a range
// and by the --help text that announces it.
#pragma once

#include <cmath>
#include <limits>
#include <string>

#include "common/number_text.hpp"

namespace mlptune {

// A missing upper bound means "finite".
struct Range {
  double low;
  bool low_inclusive;
  double high = std::numeric_limits<double>::infinity();
  bool high_inclusive = false;

  bool contains(double value) const {
    const bool above_low = low_inclusive ? value >= low : value > low;
    const bool below_high = high_inclusive ? value <= high : value < high;
    return above_low && below_high;  // false for NaN; false for inf since high is exclusive there
  }

  // "> 0 and finite", ">= 0 and finite", "in [0, 1)".
  std::string describe() const {
    if (std::isinf(high)) return (low_inclusive ? ">= " : "> ") + shortest_text(low) + " and finite";
    return "in " + std::string(low_inclusive ? "[" : "(") + shortest_text(low) + ", " + shortest_text(high) +
           (high_inclusive ? "]" : ")");
  }
};

}  // namespace mlptune
