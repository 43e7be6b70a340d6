// The bundled and generated sets by name, the datasets folder, and loading a user's file by its
// extension.
#include <algorithm>
#include <cstdlib>
#include <functional>

#include "common/text_list.hpp"
#include "data/datasets_dir.hpp"
#include "data/numeric_table.hpp"
#include "data/text_table.hpp"
#include "mlptune/data.hpp"
#include "mlptune/error.hpp"
#include "mlptune_source_dir.hpp"

namespace mlptune {

namespace {

// The generated spirals: 1.5 turns per arm, radius up to 1, so the arms lie about 0.3 apart and
// noise 0.05 blurs them without making them overlap.
constexpr std::size_t kSpiralRows = 1000;
constexpr double kSpiralNoise = 0.05;
constexpr std::uint64_t kSpiralSeed = 0;

DataSplits load_mnist(const SplitOptions& options) {
  const auto folder = datasets_dir() / "mnist";
  Dataset train = load_idx(folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz");
  Dataset test = load_idx(folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz");
  train.name = test.name = "mnist";
  return split_and_scale(train, test, options);
}

// A scikit-learn CSV: features then an integer class; `has_header` unset means detected (the
// metadata line "n_samples,n_features,class names...").
DataSplits load_sklearn_csv(const std::string& name, const std::string& file, std::optional<bool> has_header,
                            const SplitOptions& options) {
  LoadOptions load;
  load.has_header = has_header;
  Dataset all = load_csv(datasets_dir() / "sklearn" / file, load);
  all.name = name;
  return split_and_scale(all, options);
}

// Diabetes comes as two whitespace-separated files: 10 features per line, and one target per line.
Dataset load_diabetes() {
  const auto folder = datasets_dir() / "sklearn";
  const data::NumericTable features = data::read_text_table(folder / "diabetes_data_raw.csv.gz", ' ', false);
  const data::NumericTable targets = data::read_text_table(folder / "diabetes_target.csv.gz", ' ', false);
  if (targets.cols != 1 || targets.rows != features.rows) {
    throw DataError(targets.source + ": holds " + std::to_string(targets.rows) + " rows of " +
                    std::to_string(targets.cols) + " values, expected " + std::to_string(features.rows) +
                    " rows of 1 target (one per row of " + features.source + ")");
  }
  data::NumericTable table = features;
  table.cols = features.cols + 1;
  table.values.clear();
  for (std::size_t row = 0; row < features.rows; ++row) {
    const auto first = features.values.begin() + static_cast<std::ptrdiff_t>(row * features.cols);
    table.values.insert(table.values.end(), first, first + static_cast<std::ptrdiff_t>(features.cols));
    table.values.push_back(targets.values[row]);
  }
  table.describe_cell = [&features, &targets](std::size_t row, std::size_t col) {
    return col < features.cols ? features.describe_cell(row, col) : targets.describe_cell(row, 0);
  };
  LoadOptions load;
  load.task = Task::regression;
  Dataset all = data::table_to_dataset(table, load);
  all.name = "diabetes";
  return all;
}

struct BundledEntry {
  BundledDataset info;
  Scaling default_scaling;
  std::function<DataSplits(const SplitOptions&)> load;
};

const std::vector<BundledEntry>& bundled_entries() {
  static const std::vector<BundledEntry> entries = {
      {{"mnist", "MNIST handwritten digits: 60000 train + 10000 test images of 28x28 bytes, 10 classes",
        Task::classification},
       Scaling::minmax,
       load_mnist},
      {{"iris", "Iris (Fisher 1936): 150 flowers, 4 measurements, 3 species", Task::classification},
       Scaling::standard,
       [](const SplitOptions& o) { return load_sklearn_csv("iris", "iris.csv", std::nullopt, o); }},
      {{"wine", "Wine recognition (UCI): 178 wines, 13 chemical measures, 3 cultivars", Task::classification},
       Scaling::standard,
       [](const SplitOptions& o) { return load_sklearn_csv("wine", "wine_data.csv", std::nullopt, o); }},
      {{"breast_cancer", "Breast Cancer Wisconsin (Diagnostic): 569 samples, 30 features, malignant or benign",
        Task::classification},
       Scaling::standard,
       [](const SplitOptions& o) { return load_sklearn_csv("breast_cancer", "breast_cancer.csv", std::nullopt, o); }},
      {{"digits", "Optical digits (UCI optdigits): 1797 images of 8x8 counts 0..16, 10 classes", Task::classification},
       Scaling::minmax,
       [](const SplitOptions& o) { return load_sklearn_csv("digits", "digits.csv.gz", false, o); }},
      // The raw targets span 25..346; standardising them keeps MSE training well conditioned, and
      // target_scale reports RMSE in the file's units.
      {{"diabetes", "Diabetes (Efron et al. 2004): 442 patients, 10 measures, disease progression after a year",
        Task::regression},
       Scaling::standard,
       [](SplitOptions o) {
         o.scale_targets = true;
         return split_and_scale(load_diabetes(), o);
       }},
      {{"line", "Generated line y = 2x + 1 + 0.1 N(0,1), 1000 points: the slope and intercept to recover",
        Task::regression},
       Scaling::none,
       [](const SplitOptions& o) {
         const LineSpec spec;
         return split_and_scale(make_line(spec.rows, spec.slope, spec.intercept, spec.noise_stddev, spec.seed), o);
       }},
      {{"spirals", "Generated two interleaved spirals: 1000 points in 2-D, 2 classes", Task::classification},
       Scaling::standard,
       [](const SplitOptions& o) { return split_and_scale(make_spirals(kSpiralRows, kSpiralNoise, kSpiralSeed), o); }},
  };
  return entries;
}

const BundledEntry& find_entry(const std::string& name) {
  const auto& entries = bundled_entries();
  const auto found =
      std::find_if(entries.begin(), entries.end(), [&name](const auto& entry) { return entry.info.name == name; });
  if (found != entries.end()) return *found;
  const std::string known = join(entries, ", ", [](const auto& entry) { return entry.info.name; });
  throw ConfigError("unknown dataset '" + name + "'; known datasets: " + known +
                    " (or give a file: .csv, .csv.gz, .npy, IMAGES,LABELS for IDX)");
}

// A datasets/ folder is recognised by its checksum list, which every copy of it carries.
std::optional<std::filesystem::path> find_near_executable() {
  std::error_code error;
  const std::filesystem::path executable = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) {
    return std::nullopt;
  }
  for (auto folder = executable.parent_path(); !folder.empty(); folder = folder.parent_path()) {
    for (const auto& candidate : {folder / "datasets", folder / "share" / "mlptune" / "datasets"}) {
      if (std::filesystem::exists(candidate / "SHA256SUMS", error)) {
        return candidate;
      }
    }
    if (folder == folder.parent_path()) {
      break;
    }
  }
  return std::nullopt;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_text_table(const std::string& path) {
  for (const char* suffix : {".csv", ".tsv", ".txt"}) {
    if (ends_with(path, suffix) || ends_with(path, std::string(suffix) + ".gz")) {
      return true;
    }
  }
  return false;
}

std::string trim_spaces(const std::string& text) {
  const auto first = text.find_first_not_of(' ');
  return first == std::string::npos ? "" : text.substr(first, text.find_last_not_of(' ') - first + 1);
}

Dataset load_pair(const std::string& first, const std::string& second, const LoadOptions& load) {
  if (ends_with(first, ".npy")) {
    return load_npy(first, std::filesystem::path(second), load);
  }
  return load_idx(first, second);
}

Dataset load_single(const std::string& path, const LoadOptions& load) {
  if (is_text_table(path)) {
    return load_csv(path, load);
  }
  if (ends_with(path, ".npy")) {
    return load_npy(path, std::nullopt, load);
  }
  if (path.find("-ubyte") != std::string::npos || ends_with(path, ".idx") || ends_with(path, ".idx.gz")) {
    throw DataError(path + ": IDX images need their labels file; give both as IMAGES,LABELS");
  }
  throw DataError(path +
                  ": unknown file type; expected .csv, .csv.gz, .tsv, .txt, .npy, FEATURES.npy,LABELS.npy "
                  "or IDX files as IMAGES,LABELS");
}

}  // namespace

const std::vector<BundledDataset>& bundled_datasets() {
  static const std::vector<BundledDataset> datasets = [] {
    std::vector<BundledDataset> infos;
    for (const auto& entry : bundled_entries()) {
      infos.push_back(entry.info);
    }
    return infos;
  }();
  return datasets;
}

Scaling default_scaling(const std::string& name) {
  return find_entry(name).default_scaling;
}

DataSplits load_bundled(const std::string& name, const SplitOptions& options) {
  return find_entry(name).load(options);
}

namespace data {

std::filesystem::path choose_datasets_dir(const char* from_environment,
                                          const std::optional<std::filesystem::path>& near_executable,
                                          const std::filesystem::path& source_tree) {
  if (from_environment && *from_environment) {
    return from_environment;
  }
  if (near_executable) {
    return *near_executable;
  }
  std::error_code error;
  if (std::filesystem::exists(source_tree / "datasets" / "SHA256SUMS", error)) {
    return source_tree / "datasets";
  }
  throw DataError(
      "the bundled datasets were not found (no datasets/ folder beside the program or above it); set "
      "MLPTUNE_DATA_DIR to the folder that holds them, e.g. PREFIX/share/mlptune/datasets where mlptune is "
      "installed");
}

}  // namespace data

std::filesystem::path datasets_dir() {
  return data::choose_datasets_dir(std::getenv("MLPTUNE_DATA_DIR"), find_near_executable(), MLPTUNE_SOURCE_DIR);
}

Dataset load_rows(const std::string& spec, const LoadOptions& load) {
  const auto comma = spec.find(',');
  return comma == std::string::npos
             ? load_single(trim_spaces(spec), load)
             : load_pair(trim_spaces(spec.substr(0, comma)), trim_spaces(spec.substr(comma + 1)), load);
}

DataSplits load_file(const std::string& spec, const LoadOptions& load, const SplitOptions& split) {
  return split_and_scale(load_rows(spec, load), split);
}

Dataset load_features(const std::string& path, std::size_t feature_count, const LoadOptions& load) {
  const std::string file = trim_spaces(path);
  data::NumericTable table;
  if (is_text_table(file)) {
    table = data::read_text_table(file, load.delimiter, load.has_header);
  } else if (ends_with(file, ".npy")) {
    table = data::read_npy_table(file);
  } else {
    throw DataError(file + ": unknown file type for new rows; expected .csv, .csv.gz, .tsv, .txt or a 2-D .npy");
  }
  Dataset rows = data::table_features(table, feature_count, load);
  rows.name = file;
  return rows;
}

}  // namespace mlptune
