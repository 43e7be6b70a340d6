// `mlptune predict MODEL --data FILE --out FILE.csv`: applies a saved model, with the scaling of
// the data it was trained on, to new rows, and writes one prediction per row.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "common/number_text.hpp"
#include "io/output_file.hpp"
#include "mlptune/error.hpp"
#include "mlptune/safetensors.hpp"

namespace mlptune::cli {
namespace {

struct PredictCommandOptions {
  std::string model_path;
  std::string data_path;
  std::string out_path;
  RuntimeOptions runtime;
};

// A header line with names, in both files, must name the same features in the same order.
void check_feature_names(const std::string& model_path, const ModelData& saved, const Dataset& rows) {
  if (saved.feature_names.empty() || rows.feature_names.empty()) return;
  for (std::size_t col = 0; col < rows.cols; ++col) {
    if (saved.feature_names[col] != rows.feature_names[col])
      throw DataError(rows.name + ": feature column " + std::to_string(col) + " is named '" + rows.feature_names[col] +
                      "', but " + model_path + " was trained with '" + saved.feature_names[col] +
                      "' there; give the columns in the order of the training file");
  }
}

// The new rows, read as the training file was and scaled as its training split was.
Dataset read_rows(const PredictCommandOptions& options, const ModelData& saved, const ModelSpec& model) {
  LoadOptions load;
  load.task = saved.task;
  if (!saved.label_column.empty()) load.label_column = saved.label_column;
  Dataset rows = load_features(options.data_path, std::size_t(model.input_width), load);
  check_feature_names(options.model_path, saved, rows);
  scale_features(rows, saved.column_scale, saved.column_offset);
  return rows;
}

// The backend's trainer owns the data it runs on: the new rows stand in as its training split
// (with placeholder labels or targets that nothing trains on), so prediction runs where training would.
std::shared_ptr<const DataSplits> rows_as_splits(const Dataset& rows, const ModelSpec& model) {
  auto splits = std::make_shared<DataSplits>();
  splits->train = rows;
  Dataset& train = splits->train;
  if (train.task == Task::classification) {
    train.num_classes = model.output_width;
    train.labels.assign(train.rows, 0);
  } else {
    train.target_width = model.output_width;
    train.targets.assign(train.rows * std::size_t(model.output_width), 0.0f);
  }
  return splits;
}

// "class,probability_0,...": the most probable class and the softmax of the logits, per row.
std::string classification_csv(const std::vector<float>& logits, std::size_t rows, int classes) {
  std::string text = "class";
  for (int c = 0; c < classes; ++c) {
    text += ",probability_";
    text += std::to_string(c);
  }
  text += "\n";
  std::vector<double> probabilities(static_cast<std::size_t>(classes));
  for (std::size_t row = 0; row < rows; ++row) {
    const float* scores = logits.data() + row * std::size_t(classes);
    const float* best = std::max_element(scores, scores + classes);  // the first maximum, as accuracy counts
    double sum = 0.0;
    for (int c = 0; c < classes; ++c) sum += probabilities[std::size_t(c)] = std::exp(double(scores[c]) - *best);
    text += std::to_string(best - scores);
    for (double probability : probabilities) {
      text += ",";
      text += shortest_text(float(probability / sum));
    }
    text += "\n";
  }
  return text;
}

// "value" (or value_0, value_1, ...): the outputs in the units of the training file's targets.
std::string regression_csv(const std::vector<float>& outputs, std::size_t rows, int width, const ModelData& saved) {
  std::string text;
  for (int k = 0; k < width; ++k) {
    if (k > 0) text += ",";
    text += "value";
    if (width > 1) text += "_" + std::to_string(k);
  }
  text += "\n";
  for (std::size_t row = 0; row < rows; ++row) {
    for (int k = 0; k < width; ++k) {
      if (k > 0) text += ",";
      const double output = outputs[row * std::size_t(width) + std::size_t(k)];
      text += shortest_text(output * saved.target_scale + saved.target_offset);
    }
    text += "\n";
  }
  return text;
}

int run_predict(const PredictCommandOptions& options) {
  io::checked_output_path(options.out_path, "--out");
  const TrialState state = load_trial_state(options.model_path);
  const ModelData saved = read_model_data(options.model_path, read_safetensors(options.model_path).metadata);
  check_model_data(options.model_path, saved, state.model);
  const Dataset rows = read_rows(options, saved, state.model);

  TrialSpec spec;
  spec.model = state.model;
  auto backend = make_backend(make_backend_options(options.runtime));
  auto trainer = backend->make_trainer(spec, rows_as_splits(rows, state.model));
  TrialState start = trainer->state();
  start.parameters = state.parameters;
  trainer->load_state(start);
  const std::vector<float> outputs = trainer->predict(rows);

  const int width = state.model.output_width;
  io::write_file_atomically(options.out_path,
                            saved.task == Task::classification ? classification_csv(outputs, rows.rows, width)
                                                               : regression_csv(outputs, rows.rows, width, saved),
                            "--out");
  std::cout << "wrote " << rows.rows << " predictions to " << options.out_path << std::endl;
  return kExitOk;
}

}  // namespace

Command add_predict_command(CLI::App& app) {
  auto options = std::make_shared<PredictCommandOptions>();
  CLI::App* command =
      app.add_subcommand("predict", "Apply a saved model to new rows; write one prediction per row to a CSV file");
  command->footer(
      "Classification writes the class and the probability of each class; regression the value in the units of\n"
      "the training file. Example: mlptune predict model.safetensors --data new.csv --out predictions.csv");
  command->add_option("model", options->model_path, "a model saved by `mlptune train --save` or a study")
      ->required()
      ->check(CLI::ExistingFile);
  command
      ->add_option("--data", options->data_path,
                   "the rows: .csv[.gz], .tsv or .txt, or a 2-D .npy; the training file's feature columns, with or "
                   "without its label column")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--out", options->out_path, "the predictions (CSV), written whole or not at all")->required();
  add_runtime_options(*command, options->runtime);
  return [options] { return run_predict(*options); };
}

}  // namespace mlptune::cli
