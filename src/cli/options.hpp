// Command-line options shared by the commands: the data, the model, the training
// hyperparameters and the backend, turned into the library's types.
#pragma once

#include <CLI/CLI.hpp>
#include <charconv>
#include <limits>
#include <map>
#include <string>
#include <string_view>

#include "mlptune/backend.hpp"
#include "mlptune/data.hpp"
#include "mlptune/trial.hpp"

namespace mlptune::cli {

// The flags' defaults are DataSpec's (`mlptune train` trains on mnist; a study's default is
// StudySettings's, digits).
struct DataOptions {
  std::string dataset = DataSpec{}.dataset;
  std::string data_path;
  std::string test_data_path;
  std::string label_column;
  std::string task = "classification";
  std::string scaling = "auto";
  double validation_fraction = DataSpec{}.validation_fraction;
  double test_fraction = DataSpec{}.test_fraction;
  std::uint64_t split_seed = DataSpec{}.split_seed;
};

// The settings' flags as given, as text by canonical name (a flag not given is absent): make_model
// and make_train_config read them through the setting tables, so every default is the field's own.
using GivenSettings = std::map<std::string, std::string, std::less<>>;

struct ModelOptions {
  GivenSettings given;  // hidden, activation, loss, init
  int depth = -1;       // with width: depth hidden layers of `width` (instead of --hidden)
  int width = -1;
};

struct TrainOptions {
  GivenSettings given;
};

struct RuntimeOptions {
  std::string backend = "auto";
  int device = 0;
  int threads = 0;
};

// Checks on a flag's text, run before CLI11 converts it: CLI11's own error ("Could not convert:
// --epochs = 2147483648") names neither the problem nor the range, and it takes "-1" for an
// unsigned flag as 2^64 - 1.
// A whole number in [minimum, maximum]: "must be a whole number in [1, 2147483647] (got 2147483648)".
template <class Integer>
CLI::Validator whole_number(Integer minimum, Integer maximum = std::numeric_limits<Integer>::max()) {
  const std::string range = "[" + std::to_string(minimum) + ", " + std::to_string(maximum) + "]";
  return CLI::Validator(
      [minimum, maximum, range](std::string& text) -> std::string {
        std::string_view digits = text;
        if (digits.starts_with('+')) digits.remove_prefix(1);
        Integer value{};
        const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        if (error == std::errc() && end == digits.data() + digits.size() && value >= minimum && value <= maximum)
          return "";
        return "must be a whole number in " + range + " (got " + text + ")";
      },
      "");
}
// A number a double holds (0.001, 1e-3, inf and nan too; ranges are the settings' own checks).
CLI::Validator real_number();

void add_data_options(CLI::App& app, DataOptions& options);
void add_model_options(CLI::App& app, ModelOptions& options);
void add_train_options(CLI::App& app, TrainOptions& options);
void add_runtime_options(CLI::App& app, RuntimeOptions& options);
// --backend's help, "WHAT: cpu, cuda or auto (...)", and its check, both from the backend names.
std::string backend_help(const std::string& what);
CLI::Validator backend_check();

DataSplits load_data(const DataOptions& options);
// The model for data with `input_width` features and `output_width` outputs. --hidden given
// together with --depth/--width is refused: one of them would be ignored.
ModelSpec make_model(const ModelOptions& options, int input_width, int output_width, Task task);
// Throws SettingError naming the flag, or ConfigError listing an enum's names.
TrainConfig make_train_config(const TrainOptions& options);
BackendOptions make_backend_options(const RuntimeOptions& options);

}  // namespace mlptune::cli
