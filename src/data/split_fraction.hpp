// The accepted split fractions: split_and_scale checks them, --help states them.
#pragma once

#include "common/value_range.hpp"

namespace mlptune::data {

// A share of all rows (for sets without a test split of their own).
inline constexpr Range kTestFractionRange{0.0, true, 1.0, false};
// A share of the rows left for training, at most half of them: a training split smaller than the
// validation split is a split nobody means (a share to keep, written where the share to hold out goes).
inline constexpr Range kValidationFractionRange{0.0, true, 0.5, true};

}  // namespace mlptune::data
