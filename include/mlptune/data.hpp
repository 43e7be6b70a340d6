// Datasets: in-memory tables, file loaders (IDX, CSV, NPY), scaling, splits, synthetic sets and
// the registry of bundled sets.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlptune {

enum class Task { classification, regression };

// One table of samples. Features are row-major float32, rows x cols, already scaled.
struct Dataset {
  std::string name;
  Task task = Task::classification;
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<float> features;  // rows x cols

  // Classification: one label per row in [0, num_classes).
  std::vector<std::int32_t> labels;  // rows
  int num_classes = 0;

  // Regression: target_width values per row, scaled as target = (raw - target_offset) / target_scale.
  std::vector<float> targets;  // rows x target_width
  int target_width = 0;
  double target_offset = 0.0;  // to report RMSE in the units of the file: rmse * target_scale
  double target_scale = 1.0;

  // When the file held bytes (IDX ubyte), the raw bytes are kept so a device can store them
  // compactly. Then for every r, c:
  //   features[r*cols + c] == std::fma(float(raw_bytes[r*cols + c]), column_scale[c], column_offset[c])
  // exactly (the scaler below guarantees this by computing features with that expression).
  std::vector<std::uint8_t> raw_bytes;  // rows x cols, or empty
  std::vector<float> column_scale;      // cols (identity: 1)
  std::vector<float> column_offset;     // cols (identity: 0)

  std::vector<std::string> feature_names;  // cols, from the file's header line; empty without one

  int output_width() const { return task == Task::classification ? num_classes : target_width; }
};

// The three splits a trial uses; shared read-only by every trial (and uploaded once per device).
struct DataSplits {
  Dataset train;
  Dataset validation;
  Dataset test;
};

enum class Scaling {
  none,
  minmax,    // per feature to [0, 1], fitted on the training split (constant features map to 0)
  standard,  // per feature to zero mean, unit variance, fitted on the training split
};

// How to read a user's file.
struct LoadOptions {
  // CSV: which column holds the label or target: an index (negative counts from the end) or a
  // header name. Default: the last column.
  std::optional<std::string> label_column;
  Task task = Task::classification;
  // CSV: whether the first line is a header. Unset: detected (a first line with a non-numeric
  // cell is a header).
  std::optional<bool> has_header;
  char delimiter = ',';  // CSV; ' ' means any run of spaces or tabs
};

// How to turn a loaded set into splits.
struct SplitOptions {
  Scaling scaling = Scaling::standard;
  bool scale_targets = false;        // regression: standardise targets on the training split
  double validation_fraction = 0.1;  // taken from the training part
  double test_fraction = 0.2;        // used only when the source has no test split
  std::uint64_t seed = 0;            // the split's own seed
};

// Loaders. Each throws DataError whose message names the file, the place (byte, line, column)
// and the problem.
Dataset load_idx(const std::filesystem::path& images, const std::filesystem::path& labels);  // gz or not
Dataset load_csv(const std::filesystem::path& path, const LoadOptions& options = {});
// .npy: a 2-D float/int array; with labels_path a 1-D array of labels (or targets), else the last
// column is the label.
Dataset load_npy(const std::filesystem::path& features_path, const std::optional<std::filesystem::path>& labels_path,
                 const LoadOptions& options = {});

// Generated sets.
// The bundled "line": y = 2·x + 1 with noise 0.1 on 1,000 points (seed 0), the parameters to recover.
struct LineSpec {
  double slope = 2.0;
  double intercept = 1.0;
  double noise_stddev = 0.1;
  std::size_t rows = 1000;
  std::uint64_t seed = 0;
};
// y = slope * x + intercept + noise_stddev * N(0, 1), x uniform in [-1, 1]; regression, 1 feature.
Dataset make_line(std::size_t rows, double slope, double intercept, double noise_stddev, std::uint64_t seed);
// Two interleaved spirals in 2-D; classification with 2 classes.
Dataset make_spirals(std::size_t rows, double noise_stddev, std::uint64_t seed);

// Seeded split (fractions of rows; each split keeps the rows in the order of `all`), then scaling
// fitted on train and applied to all.
DataSplits split_and_scale(const Dataset& all, const SplitOptions& options);
// For sets that come with a test split: validation is taken from train. DataError when the test
// set's columns differ from the training set's (count, header names, task).
DataSplits split_and_scale(const Dataset& train, const Dataset& test, const SplitOptions& options);
// Applies a scaling fitted earlier (a saved model's) to unscaled rows: features = fma(value,
// column_scale, column_offset), refusing a value it takes beyond float32's range.
void scale_features(Dataset& rows, const std::vector<float>& column_scale, const std::vector<float>& column_offset);

// Bundled and generated sets by name: mnist, iris, wine, breast_cancer, digits, diabetes, line,
// spirals.
struct BundledDataset {
  std::string name;
  std::string description;
  Task task;
};
const std::vector<BundledDataset>& bundled_datasets();

// The folder that holds the bundled data: $MLPTUNE_DATA_DIR if set, else the installed or
// source-tree datasets/ folder found next to the executable, else the build-time source tree's
// when it is still there. Throws DataError saying to set MLPTUNE_DATA_DIR when none holds them.
std::filesystem::path datasets_dir();

// Loads a bundled or generated set by name and splits it with the options (scaling defaults
// per set: minmax for images, standard for tabular). Unknown names list the known ones.
DataSplits load_bundled(const std::string& name, const SplitOptions& options);
// The set's own default scaling (minmax for mnist/digits, standard otherwise, none for line).
Scaling default_scaling(const std::string& name);

// The data a run trains on, as `mlptune train` flags and study configs name it. Both load through
// load_data, so a trial's `mlptune train` command line sees exactly the splits its study saw.
struct DataSpec {
  std::string dataset = "mnist";  // a bundled or generated set, used when path is empty
  std::string path;               // a user's file, as load_file takes it
  std::string label_column;       // CSV; empty: the last column
  Task task = Task::classification;
  std::optional<Scaling> scaling;  // unset: default_scaling(dataset) for bundled sets, standard for files
  double validation_fraction = 0.1;
  double test_fraction = 0.2;
  std::uint64_t split_seed = 0;
  std::string test_path;  // with path: a file of the same columns holding the test split
};
// Regression targets from a user's file are standardised (RMSE is still reported in file units).
// With a test_path, the test split is that file and test_fraction is unused.
DataSplits load_data(const DataSpec& spec);

// Loads a user file by extension (.csv[.gz], .npy, .idx/-ubyte[.gz] pairs given as "IMAGES,LABELS").
Dataset load_rows(const std::string& spec, const LoadOptions& load);
// load_rows, then split_and_scale.
DataSplits load_file(const std::string& spec, const LoadOptions& load, const SplitOptions& split);

// New rows for a model with `feature_count` inputs, unscaled, without labels: a text table
// (.csv, .tsv, .txt, optionally .gz) or a 2-D .npy whose rows hold the features, or the features
// and the label column (found as load.label_column says, and dropped). DataError naming the file
// and the widths when its rows hold another number of values.
Dataset load_features(const std::string& path, std::size_t feature_count, const LoadOptions& load);

}  // namespace mlptune
