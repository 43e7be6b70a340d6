// Command-line options shared by the commands: the data, the model, the training
// hyperparameters and the backend, turned into the library's types.
#pragma once

#include <CLI/CLI.hpp>
#include <charconv>
#include <limits>
#include <string>
#include <string_view>

#include "mlptune/backend.hpp"
#include "mlptune/data.hpp"
#include "mlptune/trial.hpp"

namespace mlptune::cli {

struct DataOptions {
  std::string dataset = "mnist";
  std::string data_path;
  std::string label_column;
  std::string task = "classification";
  std::string scaling = "auto";
  double validation_fraction = 0.1;
  double test_fraction = 0.2;
  std::uint64_t split_seed = 0;
};

struct ModelOptions {
  std::string hidden = "256";
  bool hidden_given = false;  // --hidden was on the command line (its default does not count)
  int depth = -1;             // with width: depth hidden layers of `width` (instead of --hidden)
  int width = -1;
  std::string activation = "relu";
  std::string loss = "auto";
  std::string init = "he";
};

struct TrainOptions {
  std::string optimizer = "adam";
  double learning_rate = 1e-3;
  double momentum = 0.9;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = 0.0;
  std::string schedule = "constant";
  double warmup_epochs = 0.0;
  int step_epochs = 10;
  double step_gamma = 0.1;
  int batch_size = 128;
  int epochs = 10;
  std::uint64_t seed = 0;
  bool no_shuffle = false;
  int early_stopping = 0;
  std::string precision = "fp32";
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

// Parses "256,128" (or "" for no hidden layer); throws ConfigError naming --hidden.
std::vector<int> parse_hidden(const std::string& text);

DataSplits load_data(const DataOptions& options);
// The model for data with `input_width` features and `output_width` outputs. --hidden given
// together with --depth/--width is refused: one of them would be ignored.
ModelSpec make_model(const ModelOptions& options, int input_width, int output_width, Task task);
TrainConfig make_train_config(const TrainOptions& options);
BackendOptions make_backend_options(const RuntimeOptions& options);

}  // namespace mlptune::cli
