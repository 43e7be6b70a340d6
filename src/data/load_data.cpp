// load_data: one place that turns a DataSpec (train flags, study settings) into splits.
#include "mlptune/data.hpp"
#include "mlptune/error.hpp"

namespace mlptune {

DataSplits load_data(const DataSpec& spec) {
  SplitOptions split;
  split.validation_fraction = spec.validation_fraction;
  split.test_fraction = spec.test_fraction;
  split.seed = spec.split_seed;
  if (spec.path.empty() && !spec.test_path.empty())
    throw ConfigError("the test file " + spec.test_path + " goes with a training file of your own: give --data " +
                      "(mlptune.data in a study) beside it; the bundled sets bring their own splits");
  if (spec.path.empty()) {
    split.scaling = spec.scaling.value_or(default_scaling(spec.dataset));
    return load_bundled(spec.dataset, split);
  }
  split.scaling = spec.scaling.value_or(Scaling::standard);
  LoadOptions load;
  if (!spec.label_column.empty()) load.label_column = spec.label_column;
  load.task = spec.task;
  split.scale_targets = spec.task == Task::regression;
  if (spec.test_path.empty()) return load_file(spec.path, load, split);
  // Both files are named by their paths, so a message about either says which one it means.
  Dataset train = load_rows(spec.path, load);
  Dataset test = load_rows(spec.test_path, load);
  train.name = spec.path;
  test.name = spec.test_path;
  return split_and_scale(train, test, split);
}

}  // namespace mlptune
