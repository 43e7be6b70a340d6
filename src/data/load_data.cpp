// load_data: one place that turns a DataSpec (train flags, study settings) into splits.
#include "mlptune/data.hpp"

namespace mlptune {

DataSplits load_data(const DataSpec& spec) {
  SplitOptions split;
  split.validation_fraction = spec.validation_fraction;
  split.test_fraction = spec.test_fraction;
  split.seed = spec.split_seed;
  if (spec.path.empty()) {
    split.scaling = spec.scaling.value_or(default_scaling(spec.dataset));
    return load_bundled(spec.dataset, split);
  }
  split.scaling = spec.scaling.value_or(Scaling::standard);
  LoadOptions load;
  if (!spec.label_column.empty()) load.label_column = spec.label_column;
  load.task = spec.task;
  split.scale_targets = spec.task == Task::regression;
  return load_file(spec.path, load, split);
}

}  // namespace mlptune
