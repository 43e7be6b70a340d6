// `mlptune summary`: the model's parameters per layer next to the run's hyperparameters, for the
// model the flags describe or for a model file saved with `mlptune train --save`.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/summary.hpp"
#include "cli/text.hpp"
#include "mlptune/error.hpp"
#include "mlptune/safetensors.hpp"
#include "nn/settings.hpp"

namespace mlptune::cli {
namespace {

struct SummaryCommandOptions {
  std::string model_file;
  DataOptions data;
  ModelOptions model;
  TrainOptions train;
};

TrainConfig saved_train_config(const std::string& path, const std::string& spec_text) {
  // Parsed into a named object: at() looks inside it.
  const nlohmann::json saved = nlohmann::json::parse(spec_text, nullptr, /*allow_exceptions=*/false);
  if (!saved.is_object() || !saved.contains("train"))
    throw DataError(path + ": the 'mlptune.spec' metadata is not the JSON object `mlptune train --save` writes");
  try {
    return train_config_from_json(saved.at("train"));
  } catch (const ConfigError& error) {
    throw DataError(path + ": the 'mlptune.spec' metadata: train." + error.what());
  }
}

// What `mlptune predict` expects of new rows, from the model's saved data entry.
void print_model_data(const ModelData& data) {
  std::cout << "Data (what `mlptune predict` reads)\n";
  std::cout << format("  %-16s %s\n", "task", data.task == Task::classification ? "classification" : "regression");
  std::string features = std::to_string(data.column_scale.size()) + " columns";
  if (!data.feature_names.empty()) {
    constexpr std::size_t kShown = 8;
    features += ": ";
    for (std::size_t i = 0; i < data.feature_names.size() && i < kShown; ++i)
      features += (i ? ", " : "") + data.feature_names[i];
    if (data.feature_names.size() > kShown) features += ", ...";
  }
  std::cout << format("  %-16s %s\n", "features", features.c_str());
  std::cout << format("  %-16s %s\n", "label column",
                      data.label_column.empty() ? "the last" : data.label_column.c_str());
  if (data.task == Task::classification)
    std::cout << format("  %-16s %d\n", "classes", data.classes);
  else
    std::cout << format("  %-16s value = output * %g + %g\n", "target units", data.target_scale, data.target_offset);
}

int summarise_file(const std::string& path) {
  const TrialState state = load_trial_state(path);
  print_summary(std::cout, state.model, std::nullopt, path);
  const SafetensorsFile file = read_safetensors(path);
  if (const auto spec = file.metadata.find("mlptune.spec"); spec != file.metadata.end()) {
    // Read back into a TrainConfig (so a file whose settings would not train is refused), printed
    // by name in sorted order.
    const nlohmann::json saved(to_json(saved_train_config(path, spec->second)));
    std::cout << "Hyperparameters (as saved)\n";
    for (const auto& [name, value] : saved.items())
      std::cout << format("  %-16s %s\n", name.c_str(), value.dump().c_str());
  }
  if (file.metadata.contains(kModelDataKey)) print_model_data(read_model_data(path, file.metadata));
  if (const auto result = file.metadata.find("mlptune.result"); result != file.metadata.end())
    std::cout << "Result\n  " << result->second << "\n";
  return kExitOk;
}

int summarise_flags(const SummaryCommandOptions& options) {
  const DataSplits data = load_data(options.data);
  const ModelSpec model = make_model(options.model, int(data.train.cols), data.train.output_width(), data.train.task);
  const std::string name = options.data.data_path.empty() ? options.data.dataset : options.data.data_path;
  print_summary(std::cout, model, make_train_config(options.train), name);
  return kExitOk;
}

}  // namespace

Command add_summary_command(CLI::App& app) {
  auto options = std::make_shared<SummaryCommandOptions>();
  CLI::App* command = app.add_subcommand(
      "summary", "Show a model's parameters (learned) per layer beside its hyperparameters (set by you)");
  command->footer(
      "Examples: mlptune summary --dataset mnist --hidden 256,256\n          mlptune summary model.safetensors");
  command->add_option("model_file", options->model_file, "a model saved with `mlptune train --save`")
      ->check(CLI::ExistingFile);
  add_data_options(*command, options->data);
  add_model_options(*command, options->model);
  add_train_options(*command, options->train);
  return [options] {
    return options->model_file.empty() ? summarise_flags(*options) : summarise_file(options->model_file);
  };
}

}  // namespace mlptune::cli
