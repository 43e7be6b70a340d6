// The seconds allowed between checkpoints of a running trial: one range for the --checkpoint-every
// flag and the study YAML's mlptune.checkpoint_every.
#pragma once

#include "common/value_range.hpp"

namespace mlptune::tune {

// 0: every epoch; at most a day.
inline constexpr Range kCheckpointIntervalSeconds{0.0, true, 86400.0, true};

}  // namespace mlptune::tune
