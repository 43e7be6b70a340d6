// The model summary table: parameters per layer, and the run's hyperparameters.
#include "cli/summary.hpp"

#include <algorithm>
#include <iterator>
#include <string_view>

#include "cli/text.hpp"
#include "common/text_list.hpp"
#include "nn/settings.hpp"

namespace mlptune::cli {
namespace {

void print_parameters(std::ostream& out, const ModelSpec& model) {
  out << "Parameters (learned by training)\n";
  out << format("  %-8s %-26s %12s %10s %12s\n", "layer", "shape", "weights", "biases", "total");
  const auto layers = model.layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const LayerShape& layer = layers[i];
    const bool output = i + 1 == layers.size();
    const std::string shape = format(
        "%d -> %d, %s", layer.in, layer.out,
        output ? (model.loss == Loss::mse ? "affine" : "logits") : std::string(to_string(model.activation)).c_str());
    out << format("  %-8s %-26s %12s %10s %12s\n", format("dense_%zu", i).c_str(), shape.c_str(),
                  with_commas(layer.weight_count()).c_str(), with_commas(layer.bias_count()).c_str(),
                  with_commas(layer.parameter_count()).c_str());
  }
  std::int64_t weights = 0;
  std::int64_t biases = 0;
  for (const LayerShape& layer : layers) {
    weights += layer.weight_count();
    biases += layer.bias_count();
  }
  out << format("  %-8s %-26s %12s %10s %12s\n", "total", "", with_commas(weights).c_str(), with_commas(biases).c_str(),
                with_commas(model.parameter_count()).c_str());
  out << format("  (float32: %s bytes of parameters)\n", with_commas(model.parameter_count() * 4).c_str());
}

void print_hyperparameters(std::ostream& out, const ModelSpec& model, const TrainConfig& train) {
  const std::string hidden = join(model.hidden, ",");
  const auto row = [&out](const char* name, const std::string& value) {
    out << format("  %-16s %s\n", name, value.c_str());
  };
  out << "Hyperparameters (set before training, fixed during it)\n";
  row("depth", std::to_string(model.hidden.size()) + " hidden layer" + (model.hidden.size() == 1 ? "" : "s"));
  row("hidden", hidden.empty() ? "none" : hidden);
  row("activation", std::string(to_string(model.activation)));
  row("loss", std::string(to_string(model.loss)));
  row("init", std::string(to_string(model.init)));
  row("optimizer", std::string(to_string(train.optimizer)));
  row("learning rate", format("%g", train.learning_rate));
  switch (train.optimizer) {
    case Optimizer::momentum:
    case Optimizer::nesterov:
      row("momentum", format("%g", train.momentum));
      break;
    case Optimizer::adam:
    case Optimizer::adamw:
      row("betas", format("%g, %g (epsilon %g)", train.beta1, train.beta2, train.epsilon));
      break;
    case Optimizer::sgd:
      break;
  }
  row("weight decay", format("%g", train.weight_decay));
  std::string schedule(to_string(train.schedule));
  if (train.schedule == Schedule::step)
    schedule += format(" (x%g every %d epochs)", train.step_gamma, train.step_epochs);
  if (train.warmup_epochs > 0) schedule += format(", %g warm-up epochs", train.warmup_epochs);
  row("schedule", schedule);
  row("batch size", std::to_string(train.batch_size));
  row("epochs",
      std::to_string(train.epochs) + (train.early_stopping_patience > 0
                                          ? format(" (early stopping, patience %d)", train.early_stopping_patience)
                                          : ""));
  row("shuffle", train.shuffle ? "every epoch" : "off");
  row("seed", std::to_string(train.seed));
  row("precision", std::string(to_string(train.precision)));
  // The rows above put these settings in words; every other one (dropout, clip_norm, and any added
  // later) follows with its name and value, straight from the settings table.
  constexpr std::string_view kInWords[] = {"optimizer",  "lr",           "momentum", "beta1",          "beta2",
                                           "epsilon",    "weight_decay", "schedule", "warmup",         "step_epochs",
                                           "step_gamma", "batch_size",   "epochs",   "early_stopping", "shuffle",
                                           "seed",       "precision"};
  for (const TrainSetting& setting : train_settings())
    if (std::find(std::begin(kInWords), std::end(kInWords), setting.name) == std::end(kInWords))
      row(std::string(setting.name).c_str(), setting.text_of(train));
}

}  // namespace

void print_summary(std::ostream& out, const ModelSpec& model, const std::optional<TrainConfig>& train,
                   const std::string& data_description) {
  out << "Model: MLP " << model.input_width;
  for (int width : model.hidden) out << " -> " << width;
  out << " -> " << model.output_width;
  if (!data_description.empty()) out << "   (" << data_description << ")";
  out << "\n";
  print_parameters(out, model);
  if (train) print_hyperparameters(out, model, *train);
}

}  // namespace mlptune::cli
