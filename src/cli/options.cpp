// Command-line options shared by the commands, and their conversion to the library's types.
#include "cli/options.hpp"

#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "common/size_limits.hpp"
#include "common/text_list.hpp"
#include "data/split_fraction.hpp"
#include "engine/backend_names.hpp"
#include "mlptune/error.hpp"
#include "nn/enum_names.hpp"
#include "nn/settings.hpp"

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
  const std::string names = join(bundled_datasets(), ", ", &BundledDataset::name);
  group->add_option("--dataset", options.dataset, "bundled or generated set: " + names)->capture_default_str();
  group->add_option("--data", options.data_path,
                    "a file of your own instead: .csv[.gz], .npy (FEATURES.npy,LABELS.npy) or IDX (IMAGES,LABELS)");
  auto* test_data =
      group->add_option("--test-data", options.test_data_path,
                        "with --data: a file of the same columns that holds the test split (validation then comes "
                        "from the --data file)");
  group->add_option("--label-column", options.label_column,
                    "CSV: label column, by index (negative from the end) or name");
  const auto tasks = detail::kTaskNames.canonical_names();
  group->add_option("--task", options.task, "for --data: " + detail::kTaskNames.accepted_names())
      ->check(CLI::IsMember(std::vector<std::string>(tasks.begin(), tasks.end())))
      ->capture_default_str();
  group
      ->add_option("--scaling", options.scaling,
                   "feature scaling fitted on the training split: auto, none, minmax, standard")
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
      ->capture_default_str()
      ->excludes(test_data);
  group->add_option("--split-seed", options.split_seed, "seed of the train/validation/test split")
      ->check(whole_number<std::uint64_t>(0))
      ->capture_default_str();
}

namespace {

// The value a flag shows in --help, and what its text must be before the setting reads it:
// CLI11's own conversion errors name neither the problem nor the range.
void describe_value(CLI::Option& option, const SettingInfo& setting) {
  switch (setting.kind) {
    case SettingKind::real:
      option.type_name("FLOAT")->check(real_number());
      return;
    case SettingKind::count:
      option.type_name("INT")->check(whole_number(setting.minimum));
      return;
    case SettingKind::seed:
      option.type_name("UINT")->check(whole_number<std::uint64_t>(0));
      return;
    case SettingKind::on_off:
    case SettingKind::choice:
    case SettingKind::widths:
      option.type_name("TEXT");  // the setting reads these, naming the accepted forms
      return;
  }
}

// A setting's flag and its aliases' as CLI11 names them: "--lr,--learning-rate" (a study's
// learning_rate is --learning-rate here too).
std::string flag_names(const SettingInfo& setting) {
  std::string names = setting.flag();
  for (const std::string_view alias : setting.aliases) {
    const std::string flag = flag_for(alias);
    names += setting.kind == SettingKind::on_off ? ",--no-" + flag.substr(2) : "," + flag;
  }
  return names;
}

// One flag per setting that has one, with its help and its default (`defaults`' value, or the word
// that leaves it to the data); what the command line gives lands in `given`.
template <class Owner>
void add_setting_flags(CLI::App& group, const std::vector<Setting<Owner>>& table, const Owner& defaults,
                       GivenSettings& given) {
  for (const auto& setting : table) {
    if (!setting.has_flag()) continue;
    const std::string name(setting.name);
    if (setting.kind == SettingKind::on_off) {
      group.add_flag_callback(
          flag_names(setting), [&given, name] { given[name] = "false"; }, setting.help);
      continue;
    }
    const auto keep = [&given, name](const std::string& text) { given[name] = text; };
    CLI::Option* option = group.add_option_function<std::string>(flag_names(setting), keep, setting.help);
    option->default_str(setting.unset.empty() ? setting.text_of(defaults) : std::string(setting.unset));
    describe_value(*option, setting);
  }
}

// The given flags over `owner`'s values, in table order; a setting's `unset` word leaves its value.
template <class Owner>
void read_given(const std::vector<Setting<Owner>>& table, const GivenSettings& given, Owner& owner) {
  for (const auto& setting : table) {
    const auto text = given.find(setting.name);
    if (text == given.end() || (!setting.unset.empty() && text->second == setting.unset)) continue;
    setting.set(owner, nlohmann::json(text->second));
  }
}

}  // namespace

void add_model_options(CLI::App& app, ModelOptions& options) {
  auto* group = app.add_option_group("Model");
  add_setting_flags(*group, model_settings(), model_defaults(), options.given);
  group->add_option("--depth", options.depth, "number of hidden layers of --width (instead of --hidden)")
      ->check(whole_number(0, int(kMaxHiddenLayers)));
  group->add_option("--width", options.width, "width of each hidden layer, with --depth")->check(whole_number(1));
}

void add_train_options(CLI::App& app, TrainOptions& options) {
  add_setting_flags(*app.add_option_group("Training"), train_settings(), TrainConfig{}, options.given);
}

std::string backend_help(const std::string& what) {
  return what + ": " + kBackendNames.accepted_names() + " (auto: cuda when a GPU is seen)";
}

CLI::Validator backend_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          parse_backend_kind(text);
          return "";
        } catch (const ConfigError& error) {
          return error.what();
        }
      },
      "");
}

void add_runtime_options(CLI::App& app, RuntimeOptions& options) {
  auto* group = app.add_option_group("Runtime");
  group->add_option("--backend", options.backend, backend_help("where it runs"))
      ->check(backend_check())
      ->capture_default_str();
  group->add_option("--device", options.device, "CUDA device ordinal")->check(whole_number(0))->capture_default_str();
  const int most_threads = max_cpu_threads_per_trial();
  group
      ->add_option("--threads", options.threads,
                   "CPU: BLAS threads (0: every core for batches of 128 and more, else 1), at most " +
                       std::to_string(most_threads) + " (the most this OpenBLAS build runs)")
      ->check(whole_number(0, most_threads))
      ->capture_default_str();
}

DataSplits load_data(const DataOptions& options) {
  DataSpec spec;
  spec.dataset = options.dataset;
  spec.path = options.data_path;
  spec.test_path = options.test_data_path;
  spec.label_column = options.label_column;
  spec.task = detail::kTaskNames.parse(options.task);
  if (options.scaling != "auto") {
    spec.scaling = options.scaling == "none"     ? Scaling::none
                   : options.scaling == "minmax" ? Scaling::minmax
                                                 : Scaling::standard;
  }
  spec.validation_fraction = options.validation_fraction;
  spec.test_fraction = options.test_fraction;
  spec.split_seed = options.split_seed;
  return mlptune::load_data(spec);
}

namespace {

// --hidden with --depth/--width: one of them would be ignored, so neither is taken.
[[noreturn]] void refuse_two_shapes(const ModelOptions& options) {
  const std::string& hidden = options.given.at("hidden");
  std::string given = "--hidden " + (hidden.empty() ? std::string("\"\"") : hidden) + " and";
  if (options.depth >= 0) given += " --depth " + std::to_string(options.depth);
  if (options.width >= 0) given += " --width " + std::to_string(options.width);
  std::string fix = "write the layers either as --hidden W1,W2,... or as --depth D --width W, not both";
  constexpr int kLayersWrittenOut = 8;  // a longer --hidden list is no help to read
  if (options.depth >= 0 && options.depth <= kLayersWrittenOut && options.width >= 1) {
    const std::string widths = join(std::vector<int>(std::size_t(options.depth), options.width), ",");
    fix = "write the layers either as --depth " + std::to_string(options.depth) + " --width " +
          std::to_string(options.width) + " or as --hidden " + (widths.empty() ? "\"\"" : widths) + ", not both";
  }
  throw ConfigError(given + " both give the hidden layers; " + fix);
}

// The hidden layers --depth and --width give; nullopt when neither is given.
std::optional<std::vector<int>> layers_of_depth_and_width(const ModelOptions& options) {
  if (options.depth < 0 && options.width < 0) return std::nullopt;
  if (options.given.contains("hidden")) refuse_two_shapes(options);
  if (options.depth < 0 || options.width < 1)
    throw ConfigError("--depth and --width go together: --depth >= 0 hidden layers of --width >= 1 units");
  return std::vector<int>(std::size_t(options.depth), options.width);
}

}  // namespace

ModelSpec make_model(const ModelOptions& options, int input_width, int output_width, Task task) {
  const auto layers = layers_of_depth_and_width(options);
  ModelSpec model = model_defaults();
  model.input_width = input_width;
  model.output_width = output_width;
  model.loss = task == Task::classification ? Loss::softmax_cross_entropy : Loss::mse;  // --loss auto
  read_given(model_settings(), options.given, model);
  if (layers) model.hidden = *layers;
  model.validate();
  return model;
}

TrainConfig make_train_config(const TrainOptions& options) {
  TrainConfig config;
  read_given(train_settings(), options.given, config);
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
