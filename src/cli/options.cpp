// Command-line options shared by the commands, and their conversion to the library's types.
#include "cli/options.hpp"

#include <charconv>

#include "data/split_fraction.hpp"
#include "mlptune/error.hpp"

namespace mlptune::cli {

CLI::Validator real_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::string_view number = text;
        if (number.starts_with('+')) number.remove_prefix(1);
        double value = 0.0;
        const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
        if (error == std::errc() && end == number.data() + number.size()) return "";
        return "must be a number that a double holds, e.g. 0.001 or 1e-3 (got " + text + ")";
      },
      "");
}

void add_data_options(CLI::App& app, DataOptions& options) {
  auto* group = app.add_option_group("Data");
  std::string names;
  for (const auto& set : bundled_datasets()) {
    if (!names.empty()) names += ", ";
    names += set.name;
  }
  group->add_option("--dataset", options.dataset, "bundled or generated set: " + names)->capture_default_str();
  group->add_option("--data", options.data_path,
                    "a file of your own instead: .csv[.gz], .npy (FEATURES.npy,LABELS.npy) or IDX (IMAGES,LABELS)");
  group->add_option("--label-column", options.label_column, "CSV: label column, by index (negative from the end) or name");
  group->add_option("--task", options.task, "for --data: classification or regression")
      ->check(CLI::IsMember({"classification", "regression"}))
      ->capture_default_str();
  group->add_option("--scaling", options.scaling, "feature scaling fitted on the training split: auto, none, minmax, standard")
      ->check(CLI::IsMember({"auto", "none", "minmax", "standard"}))
      ->capture_default_str();
  group
      ->add_option(
          "--validation-fraction", options.validation_fraction,
          "share of the rows left for training held out for validation, " + data::kValidationFractionRange.describe())
      ->capture_default_str();
  group
      ->add_option(
          "--test-fraction", options.test_fraction,
          "share of all rows held out for test, for sets without a test split, " + data::kTestFractionRange.describe())
      ->capture_default_str();
  group->add_option("--split-seed", options.split_seed, "seed of the train/validation/test split")
      ->check(whole_number<std::uint64_t>(0))
      ->capture_default_str();
}

void add_model_options(CLI::App& app, ModelOptions& options) {
  auto* group = app.add_option_group("Model");
  group
      ->add_option("--hidden", options.hidden,
                   "hidden layer widths, e.g. 256,256 (\"\" for none: linear/logistic regression)")
      ->each([&options](const std::string&) { options.hidden_given = true; })
      ->capture_default_str();
  group->add_option("--depth", options.depth, "number of hidden layers of --width (instead of --hidden)")
      ->check(whole_number(0));
  group->add_option("--width", options.width, "width of each hidden layer, with --depth")->check(whole_number(1));
  group->add_option("--activation", options.activation, "relu, tanh, sigmoid, gelu, identity")->capture_default_str();
  group->add_option("--loss", options.loss, "auto (cross-entropy for classes, mse for regression), cross_entropy, mse")
      ->capture_default_str();
  group->add_option("--init", options.init, "he or xavier")->capture_default_str();
}

void add_train_options(CLI::App& app, TrainOptions& options) {
  auto* group = app.add_option_group("Training");
  group->add_option("--optimizer", options.optimizer, "sgd, momentum, nesterov, adam, adamw")->capture_default_str();
  group->add_option("--lr", options.learning_rate, "learning rate")->check(real_number())->capture_default_str();
  group->add_option("--momentum", options.momentum, "momentum, nesterov: momentum factor")
      ->check(real_number())
      ->capture_default_str();
  group->add_option("--beta1", options.beta1, "adam, adamw: first-moment decay")
      ->check(real_number())
      ->capture_default_str();
  group->add_option("--beta2", options.beta2, "adam, adamw: second-moment decay")
      ->check(real_number())
      ->capture_default_str();
  group->add_option("--epsilon", options.epsilon, "adam, adamw: denominator epsilon")
      ->check(real_number())
      ->capture_default_str();
  group->add_option("--weight-decay", options.weight_decay, "L2 penalty (decoupled for adamw)")
      ->check(real_number())
      ->capture_default_str();
  group->add_option("--schedule", options.schedule, "learning-rate schedule: constant, step, cosine")->capture_default_str();
  group->add_option("--warmup", options.warmup_epochs, "linear warm-up, in epochs (fractions allowed)")
      ->check(real_number())
      ->capture_default_str();
  group->add_option("--step-epochs", options.step_epochs, "step schedule: epochs between decays")
      ->check(whole_number(smallest_count("step_epochs")))
      ->capture_default_str();
  group->add_option("--step-gamma", options.step_gamma, "step schedule: factor at each decay")
      ->check(real_number())
      ->capture_default_str();
  group->add_option("--batch-size", options.batch_size, "samples per step (the last batch of an epoch may be smaller)")
      ->check(whole_number(smallest_count("batch_size")))
      ->capture_default_str();
  group->add_option("--epochs", options.epochs, "passes over the training split")
      ->check(whole_number(smallest_count("epochs")))
      ->capture_default_str();
  group->add_option("--seed", options.seed, "seed of initialisation and shuffling")
      ->check(whole_number<std::uint64_t>(0))
      ->capture_default_str();
  group->add_flag("--no-shuffle", options.no_shuffle, "keep the data order every epoch");
  group
      ->add_option("--early-stopping", options.early_stopping,
                   "stop after this many epochs without a better validation loss (0: off)")
      ->check(whole_number(smallest_count("early_stopping")))
      ->capture_default_str();
  group->add_option("--precision", options.precision, "fp32, or tf32 (CUDA tensor cores)")->capture_default_str();
}

void add_runtime_options(CLI::App& app, RuntimeOptions& options) {
  auto* group = app.add_option_group("Runtime");
  group->add_option("--backend", options.backend, "cpu, cuda, or auto (cuda when a GPU is seen)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  group->add_option("--device", options.device, "CUDA device ordinal")->check(whole_number(0))->capture_default_str();
  const int most_threads = max_cpu_threads_per_trial();
  group
      ->add_option("--threads", options.threads,
                   "CPU: BLAS threads (0: all cores), at most " + std::to_string(most_threads) +
                       " (the most this OpenBLAS build runs)")
      ->check(whole_number(0, most_threads))
      ->capture_default_str();
}

std::vector<int> parse_hidden(const std::string& text) {
  std::vector<int> widths;
  if (text.empty() || text == "none") return widths;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    const std::string_view item(text.data() + begin, end - begin);
    int width = 0;
    const auto [rest, error] = std::from_chars(item.data(), item.data() + item.size(), width);
    if (error != std::errc() || rest != item.data() + item.size())
      throw ConfigError("--hidden: '" + std::string(item) + "' is not a width; write widths like 256,128");
    if (width < 1) throw ConfigError("--hidden: every width must be at least 1 (got " + std::to_string(width) + ")");
    widths.push_back(width);
    begin = end + 1;
  }
  return widths;
}

DataSplits load_data(const DataOptions& options) {
  DataSpec spec;
  spec.dataset = options.dataset;
  spec.path = options.data_path;
  spec.label_column = options.label_column;
  spec.task = options.task == "regression" ? Task::regression : Task::classification;
  if (options.scaling != "auto") {
    spec.scaling = options.scaling == "none" ? Scaling::none
                   : options.scaling == "minmax" ? Scaling::minmax : Scaling::standard;
  }
  spec.validation_fraction = options.validation_fraction;
  spec.test_fraction = options.test_fraction;
  spec.split_seed = options.split_seed;
  return mlptune::load_data(spec);
}

namespace {

// --hidden with --depth/--width: one of them would be ignored, so neither is taken.
void refuse_two_shapes(const ModelOptions& options) {
  std::string given = "--hidden " + (options.hidden.empty() ? std::string("\"\"") : options.hidden) + " and";
  if (options.depth >= 0) given += " --depth " + std::to_string(options.depth);
  if (options.width >= 0) given += " --width " + std::to_string(options.width);
  std::string fix = "write the layers either as --hidden W1,W2,... or as --depth D --width W, not both";
  constexpr int kLayersWrittenOut = 8;  // a longer --hidden list is no help to read
  if (options.depth >= 0 && options.depth <= kLayersWrittenOut && options.width >= 1) {
    std::string widths;
    for (int layer = 0; layer < options.depth; ++layer)
      widths += (widths.empty() ? "" : ",") + std::to_string(options.width);
    fix = "write the layers either as --depth " + std::to_string(options.depth) + " --width " +
          std::to_string(options.width) + " or as --hidden " + (widths.empty() ? "\"\"" : widths) + ", not both";
  }
  throw ConfigError(given + " both give the hidden layers; " + fix);
}

}  // namespace

ModelSpec make_model(const ModelOptions& options, int input_width, int output_width, Task task) {
  ModelSpec model;
  model.input_width = input_width;
  model.output_width = output_width;
  if (options.depth >= 0 || options.width >= 0) {
    if (options.hidden_given) refuse_two_shapes(options);
    if (options.depth < 0 || options.width < 1)
      throw ConfigError("--depth and --width go together: --depth >= 0 hidden layers of --width >= 1 units");
    model.hidden.assign(std::size_t(options.depth), options.width);
  } else {
    model.hidden = parse_hidden(options.hidden);
  }
  model.activation = parse_activation(options.activation);
  model.init = parse_init(options.init);
  if (options.loss == "auto") {
    model.loss = task == Task::classification ? Loss::softmax_cross_entropy : Loss::mse;
  } else {
    model.loss = parse_loss(options.loss == "cross_entropy" ? "softmax_cross_entropy" : options.loss);
  }
  model.validate();
  return model;
}

TrainConfig make_train_config(const TrainOptions& options) {
  TrainConfig config;
  config.optimizer = parse_optimizer(options.optimizer);
  config.learning_rate = options.learning_rate;
  config.momentum = options.momentum;
  config.beta1 = options.beta1;
  config.beta2 = options.beta2;
  config.epsilon = options.epsilon;
  config.weight_decay = options.weight_decay;
  config.schedule = parse_schedule(options.schedule);
  config.warmup_epochs = options.warmup_epochs;
  config.step_epochs = options.step_epochs;
  config.step_gamma = options.step_gamma;
  config.batch_size = options.batch_size;
  config.epochs = options.epochs;
  config.seed = options.seed;
  config.shuffle = !options.no_shuffle;
  config.early_stopping_patience = options.early_stopping;
  config.precision = parse_precision(options.precision);
  config.validate();
  return config;
}

BackendOptions make_backend_options(const RuntimeOptions& options) {
  BackendOptions backend;
  backend.kind = parse_backend_kind(options.backend);
  backend.device = options.device;
  backend.threads_per_trial = options.threads;
  return backend;
}

}  // namespace mlptune::cli
