// `mlptune train`: one training run with every hyperparameter as a flag, per-epoch progress,
// metrics files, and saving/loading the learned parameters as safetensors.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/metrics_file.hpp"
#include "cli/options.hpp"
#include "cli/summary.hpp"
#include "cli/text.hpp"
#include "common/count_text.hpp"
#include "io/output_file.hpp"
#include "mlptune/error.hpp"
#include "mlptune/safetensors.hpp"

namespace mlptune::cli {
namespace {

struct TrainCommandOptions {
  DataOptions data;
  ModelOptions model;
  TrainOptions train;
  RuntimeOptions runtime;
  std::string metrics_path;
  std::string save_path;
  std::string init_from;
  bool quiet = false;
};

std::string data_description(const DataOptions& options, const DataSplits& data) {
  const std::string name = options.data_path.empty() ? options.dataset : options.data_path;
  return format("%s: %zu train, %zu validation, %zu test rows", name.c_str(), data.train.rows, data.validation.rows,
                data.test.rows);
}

std::string metric_text(const Metrics& metrics) {
  if (!std::isnan(metrics.accuracy)) return format("loss %.4f  accuracy %.2f%%", metrics.loss, 100 * metrics.accuracy);
  return format("loss %.4f  rmse %.4g", metrics.loss, metrics.rmse);
}

// An empty split has no metrics (they would print as nan): say once that it is not there.
std::string no_split_text(const char* split, const char* flag, double fraction) {
  return format("no %s split (%s %g)", split, flag, fraction);
}

void print_epoch(const EpochReport& report, int epochs, double elapsed, bool has_validation) {
  if (report.status == TrialStatus::diverged) {
    std::cout << format("epoch %*d/%d  %s  lr %.2e", int(std::to_string(epochs).size()), report.epoch, epochs,
                        report.message.c_str(), report.learning_rate)
              << std::endl;
    return;
  }
  const std::string validation = has_validation ? "  val " + metric_text(report.validation) : "";
  std::string line =
      format("epoch %*d/%d  train loss %.4f%s  lr %.2e  %s samples/s  %s", int(std::to_string(epochs).size()),
             report.epoch, epochs, report.train_loss, validation.c_str(), report.learning_rate,
             with_commas(std::llround(report.samples_per_second)).c_str(), duration(report.seconds).c_str());
  if (report.status == TrialStatus::running && report.epoch < epochs)
    line += "  eta " + duration(elapsed / report.epoch * (epochs - report.epoch));
  std::cout << line << std::endl;
}

// Training in float32 survives outputs well below sqrt(FLT_MAX) ~ 1.8e19 (MSE squares them, Adam
// squares their gradients); saved weights that allow larger ones would diverge at the first step.
constexpr double kLargestTrainableOutput = 1e15;

// Refuses saved parameters with which some input of the training split's range could drive a
// layer's outputs beyond kLargestTrainableOutput: the worst case of |W x + b|, layer by layer
// (tanh and sigmoid bound their outputs by 1). Parameters are layers.{i}.weight, layers.{i}.bias.
void check_trainable_magnitude(const std::string& path, const std::vector<Tensor>& parameters, Activation activation,
                               const Dataset& train) {
  double bound = 0.0;
  for (float value : train.features) bound = std::max(bound, std::fabs(double(value)));
  const std::size_t layer_count = parameters.size() / 2;
  for (std::size_t layer = 0; layer < layer_count; ++layer) {
    const Tensor& weight = parameters[2 * layer];
    const Tensor& bias = parameters[2 * layer + 1];
    const std::size_t in = std::size_t(weight.shape[1]);
    double widest_row = 0.0;  // max over outputs of sum |W[o, i]|
    for (std::size_t row = 0; row * in < weight.data.size(); ++row) {
      double sum = 0.0;
      for (std::size_t col = 0; col < in; ++col) sum += std::fabs(double(weight.data[row * in + col]));
      widest_row = std::max(widest_row, sum);
    }
    double largest_bias = 0.0;
    for (float value : bias.data) largest_bias = std::max(largest_bias, std::fabs(double(value)));
    bound = widest_row * bound + largest_bias;
    if (bound > kLargestTrainableOutput)
      throw ConfigError(
          format("--init-from %s: with the values in %s and %s, the outputs of layer %zu can reach "
                 "%.3g on this data, beyond the range float32 training handles (%.0e); the file does not "
                 "hold a trained model's parameters",
                 path.c_str(), weight.name.c_str(), bias.name.c_str(), layer, bound, kLargestTrainableOutput));
    if (layer + 1 < layer_count && (activation == Activation::tanh || activation == Activation::sigmoid))
      bound = std::min(bound, 1.0);
  }
}

// Starts the trainer from saved parameters (not their optimizer state): any safetensors file with
// this run's layers (mlptune's own, or PyTorch's nn.Linear layers), with values it can train from.
void initialise_from_file(Trainer& trainer, const std::string& path, const Dataset& train) {
  TrialState state = trainer.state();
  std::vector<Tensor> parameters;
  try {
    parameters = load_parameters(path, state.model);
  } catch (const DataError& error) {
    throw ConfigError(std::string("--init-from ") + error.what());
  }
  check_trainable_magnitude(path, parameters, state.model.activation, train);
  for (std::size_t i = 0; i < state.parameters.size(); ++i) state.parameters[i].data = std::move(parameters[i].data);
  trainer.load_state(state);
}

// Output paths are checked before any work, so a typo costs nothing.
void check_output_paths(const TrainCommandOptions& options) {
  if (!options.metrics_path.empty()) io::checked_output_path(options.metrics_path, "--metrics");
  if (!options.save_path.empty()) io::checked_output_path(options.save_path, "--save");
  if (!options.save_path.empty() && options.save_path == options.metrics_path)
    throw ConfigError("--save and --metrics name the same file " + options.save_path + "; give each its own");
}

// Early stopping watches the validation loss: without validation rows it could never act.
void check_early_stopping(const TrainCommandOptions& options, const TrainConfig& train, const DataSplits& data) {
  if (train.early_stopping_patience > 0 && data.validation.rows == 0)
    throw ConfigError(
        format("--early-stopping %d watches the validation loss, but there is %s: give "
               "--validation-fraction above 0, or leave --early-stopping out",
               train.early_stopping_patience,
               no_split_text("validation", "--validation-fraction", options.data.validation_fraction).c_str()));
}

int run_train(const TrainCommandOptions& options) {
  check_output_paths(options);
  auto data = std::make_shared<const DataSplits>(load_data(options.data));
  const Dataset& train = data->train;
  TrialSpec spec;
  spec.model = make_model(options.model, int(train.cols), train.output_width(), train.task);
  spec.train = make_train_config(options.train);
  check_early_stopping(options, spec.train, *data);
  auto backend = make_backend(make_backend_options(options.runtime));
  auto trainer = backend->make_trainer(spec, data);
  if (!options.init_from.empty()) initialise_from_file(*trainer, options.init_from, train);

  const std::string description = data_description(options.data, *data);
  if (!options.quiet) {
    print_summary(std::cout, spec.model, spec.train, description);
    std::cout << "Backend: " << backend->name() << "\n" << std::endl;
  }

  const bool has_validation = data->validation.rows > 0;
  if (!has_validation && !options.quiet)
    std::cout << no_split_text("validation", "--validation-fraction", options.data.validation_fraction)
              << ": each epoch shows the training loss only" << std::endl;
  std::vector<EpochReport> epochs;  // only for --metrics: a run may train billions of epochs
  double elapsed = 0.0;
  EpochReport last;
  do {
    last = trainer->train_epoch();
    elapsed += last.seconds;
    if (!options.metrics_path.empty()) epochs.push_back(last);
    if (!options.quiet) print_epoch(last, spec.train.epochs, elapsed, has_validation);
  } while (last.status == TrialStatus::running);

  const bool diverged = last.status == TrialStatus::diverged;
  nlohmann::json result{{"status", to_string(last.status)},
                        {"message", last.message},
                        {"epochs", last.epoch},
                        {"seconds", elapsed},
                        {"backend", backend->name()}};
  if (diverged) {
    std::cout << "result: " << last.message << " (learning rate too high? try a smaller --lr)" << std::endl;
  } else {
    std::string test_text = no_split_text("test", "--test-fraction", options.data.test_fraction);
    if (data->test.rows > 0) {
      const Metrics test = trainer->evaluate(data->test);
      result["test"] = to_json(test);
      test_text = "test " + metric_text(test);
    }
    std::cout << "result: " << to_string(last.status) << " after " << count_text(last.epoch, "epoch") << " in "
              << duration(elapsed) << "; " << test_text << std::endl;
  }
  if (!options.metrics_path.empty()) write_metrics(options.metrics_path, spec, description, epochs, result);
  if (!options.save_path.empty() && diverged) {
    std::cout << "not saving " << options.save_path << ": the parameters of a diverged run are not usable" << std::endl;
  } else if (!options.save_path.empty()) {
    save_trial_state(options.save_path, trainer->state(), false,
                     {{"mlptune.spec", to_json(spec).dump()},
                      {"mlptune.result", result.dump()},
                      {kModelDataKey, model_data_text(model_data_of(train, options.data.label_column))}});
    std::cout << "saved parameters to " << options.save_path << std::endl;
  }
  return diverged ? kExitDiverged : kExitOk;
}

}  // namespace

Command add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainCommandOptions>();
  CLI::App* command = app.add_subcommand("train", "Train one MLP; print per-epoch metrics and the test result");
  command->footer(
      "Exit status: 0 trained, 2 bad input, 3 diverged (NaN/Inf loss), 4 device error.\n"
      "Example: mlptune train --dataset mnist --hidden 256,256 --optimizer adam --lr 1e-3 --epochs 5");
  add_data_options(*command, options->data);
  add_model_options(*command, options->model);
  add_train_options(*command, options->train);
  add_runtime_options(*command, options->runtime);
  auto* output = command->add_option_group("Output");
  output->add_option("--metrics", options->metrics_path, "write per-epoch metrics to FILE (.csv, or .json)");
  output->add_option("--save", options->save_path, "write the learned parameters to FILE (.safetensors)");
  output
      ->add_option("--init-from", options->init_from,
                   "start from parameters saved with --save, or from any safetensors file of layers.N.weight (out, "
                   "in) and layers.N.bias (out), as PyTorch saves a ModuleList of nn.Linear")
      ->check(CLI::ExistingFile);
  output->add_flag("--quiet,-q", options->quiet, "print only the result line");
  return [options] { return run_train(*options); };
}

}  // namespace mlptune::cli
