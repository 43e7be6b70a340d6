// parse_study_config: a full valid W&B sweep round trip, number forms, and one test per bad config.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "mlptune/error.hpp"
#include "mlptune/tune/study_config.hpp"
#include "mlptune_source_dir.hpp"
#include "tune/search_space_math.hpp"

namespace mlptune::tune {
namespace {

constexpr const char* kFullConfig = R"(name: mnist-sweep
description: learning rate and width
program: train.py
project: demo
entity: me
command: [python, train.py]
method: bayes
metric:
  name: val_accuracy
  goal: maximize
  target: 0.99
run_cap: 40
early_terminate:
  type: hyperband
  min_iter: 1
  max_iter: 27
  eta: 3
  strict: true
parameters:
  learning_rate:
    distribution: log_uniform_values
    min: 1e-4
    max: 1.0e-1
  batch_size:
    values: [32, 64, 128]
    probabilities: [0.2, 0.3, 0.5]
  depth:
    min: 1
    max: 4
  momentum:
    min: 0.0
    max: 0.99
  hidden:
    values: [[256, 128], "512", [64]]
  activation:
    value: relu
  width:
    distribution: q_log_uniform_values
    min: 16
    max: 1024
    q: 8
  weight_decay:
    distribution: log_normal
    mu: -9
    sigma: 2
  beta1:
    distribution: beta
    a: 8
    b: 2
mlptune:
  dataset: mnist
  backend: cuda
  concurrency: 16
  seed: 7
  storage: runs/mnist.db
  cpu_run_cap: 6
  cpu_max_epochs: 2
  n_startup_trials: 5
)";

// Parses `text` expecting a ConfigError whose message holds every piece of `expected`.
void expect_error(const std::string& text, std::initializer_list<std::string> expected) {
  try {
    parse_study_config(text, "sweep.yaml");
    FAIL() << "no error for:\n" << text;
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    for (const auto& piece : expected)
      EXPECT_NE(message.find(piece), std::string::npos) << message << "\nlacks: " << piece;
  }
}

const Distribution& distribution_of(const StudyConfig& config, std::string_view name) {
  const ParameterSpec* parameter = config.space.find(name);
  if (!parameter) throw std::runtime_error("no parameter " + std::string(name));
  return parameter->distribution;
}

TEST(SpaceConfig, FullConfigRoundTrip) {
  const StudyConfig config = parse_study_config(kFullConfig, "experiments/sweep.yaml");
  EXPECT_EQ(config.name, "mnist-sweep");
  EXPECT_EQ(config.program, "train.py") << "kept, to say it is not run";
  EXPECT_EQ(config.description, "learning rate and width");
  EXPECT_EQ(config.method, Method::bayes);
  EXPECT_EQ(config.metric.name, "validation_accuracy");
  EXPECT_EQ(config.metric.goal, Goal::maximize);
  EXPECT_DOUBLE_EQ(config.metric.target.value(), 0.99);
  EXPECT_EQ(config.run_cap, 40);
  EXPECT_EQ(config.early_terminate.type, PrunerKind::hyperband);
  EXPECT_EQ(config.early_terminate.min_iter, 1);
  EXPECT_EQ(config.early_terminate.max_iter, 27);
  EXPECT_TRUE(config.early_terminate.strict);

  ASSERT_EQ(config.space.parameters.size(), 9u);
  EXPECT_EQ(config.space.parameters[0].name, "learning_rate");  // the file's name kept, file order kept
  EXPECT_EQ(config.space.parameters[0].line, 20);
  const Distribution& lr = distribution_of(config, "learning_rate");
  EXPECT_EQ(lr.kind, DistributionKind::log_uniform_values);
  EXPECT_DOUBLE_EQ(lr.min, 1e-4);
  EXPECT_DOUBLE_EQ(lr.max, 0.1);
  const Distribution& batch = distribution_of(config, "batch_size");
  EXPECT_EQ(batch.kind, DistributionKind::categorical);
  EXPECT_EQ(batch.values, (std::vector<ParamValue>{std::int64_t{32}, std::int64_t{64}, std::int64_t{128}}));
  EXPECT_EQ(batch.probabilities, (std::vector<double>{0.2, 0.3, 0.5}));
  EXPECT_EQ(distribution_of(config, "depth").kind, DistributionKind::int_uniform);
  EXPECT_TRUE(distribution_of(config, "depth").integer);
  EXPECT_EQ(distribution_of(config, "momentum").kind, DistributionKind::uniform);
  EXPECT_EQ(distribution_of(config, "hidden").values,
            (std::vector<ParamValue>{std::string("256,128"), std::string("512"), std::string("64")}));
  EXPECT_EQ(distribution_of(config, "activation").values, std::vector<ParamValue>{std::string("relu")});
  const Distribution& width = distribution_of(config, "width");
  EXPECT_EQ(width.kind, DistributionKind::q_log_uniform_values);
  EXPECT_DOUBLE_EQ(width.q, 8.0);
  EXPECT_TRUE(width.integer);
  EXPECT_DOUBLE_EQ(distribution_of(config, "weight_decay").mu, -9.0);
  EXPECT_DOUBLE_EQ(distribution_of(config, "beta1").a, 8.0);

  EXPECT_EQ(config.settings.dataset, "mnist");
  EXPECT_EQ(config.settings.backend, BackendKind::cuda);
  EXPECT_EQ(config.settings.concurrency, 16);
  EXPECT_EQ(config.settings.seed, 7u);
  EXPECT_EQ(config.settings.storage, "runs/mnist.db");
  EXPECT_EQ(config.settings.study_name, "mnist-sweep");
  EXPECT_EQ(config.settings.cpu_run_cap, 6);
  EXPECT_EQ(config.settings.cpu_max_epochs, 2);
  EXPECT_EQ(config.settings.n_startup_trials, 5);
}

TEST(SpaceConfig, DefaultsNameTheStudyAndStorageAfterTheFile) {
  const StudyConfig config =
      parse_study_config("method: grid\nparameters:\n  depth: {values: [1, 2]}\n", "experiments/depth.yaml");
  EXPECT_EQ(config.settings.study_name, "depth");
  EXPECT_EQ(config.settings.storage, "experiments/depth.db");
  EXPECT_EQ(config.metric.name, "validation_loss");
  EXPECT_EQ(config.metric.goal, Goal::minimize);
  EXPECT_EQ(config.run_cap, 0);
}

TEST(SpaceConfig, ExponentWithoutDotIsARealLikeWithDot) {
  const StudyConfig config =
      parse_study_config("method: random\nrun_cap: 5\nparameters:\n  lr: {min: 1e-4, max: 1.0e-2}\n", "sweep.yaml");
  const Distribution& lr = distribution_of(config, "lr");
  EXPECT_EQ(lr.kind, DistributionKind::uniform);
  EXPECT_DOUBLE_EQ(lr.min, 1e-4);
  EXPECT_DOUBLE_EQ(lr.max, 1e-2);
  // Both spellings are the same real, so the second choice repeats the first.
  expect_error("method: random\nrun_cap: 5\nparameters:\n  weight_decay: {values: [1e-5, 1.0e-5]}\n",
               {"sweep.yaml:4:", "parameters.weight_decay.values", "listed twice"});
  // A quoted number stays text (lr reads both as 1e-4, so each is a valid choice).
  const StudyConfig quoted =
      parse_study_config("method: random\nrun_cap: 5\nparameters:\n  lr: {values: ['1e-4', 1e-4]}\n", "sweep.yaml");
  EXPECT_EQ(distribution_of(quoted, "lr").values, (std::vector<ParamValue>{std::string("1e-4"), 1e-4}));
}

TEST(SpaceConfig, UnknownTopLevelKey) {
  expect_error("method: random\nrun_cap: 5\nparameters:\n  lr: {min: 0.1, max: 1.0}\nbudget: 3\n",
               {"sweep.yaml:5:", "budget", "unknown key", "run_cap"});
}

TEST(SpaceConfig, UnknownKeyInsideAParameter) {
  expect_error("method: random\nrun_cap: 5\nparameters:\n  lr:\n    min: 0.1\n    maxx: 1.0\n",
               {"sweep.yaml:6:", "parameters.lr.maxx", "unknown key"});
}

TEST(SpaceConfig, UnknownKeyInTheMlptuneSection) {
  expect_error("method: random\nrun_cap: 5\nparameters:\n  lr: {min: 0.1, max: 1.0}\nmlptune:\n  gpus: 2\n",
               {"sweep.yaml:6:", "mlptune.gpus", "unknown key", "concurrency"});
}

TEST(SpaceConfig, KeyThatDoesNotApplyToTheDistribution) {
  expect_error("method: random\nrun_cap: 5\nparameters:\n  lr: {distribution: uniform, min: 0.1, max: 1.0, q: 2}\n",
               {"sweep.yaml:4:", "parameters.lr.q", "does not apply to distribution uniform"});
}

TEST(SpaceConfig, MinGreaterThanMax) {
  expect_error("method: random\nrun_cap: 5\nparameters:\n  lr:\n    min: 0.1\n    max: 0.01\n",
               {"sweep.yaml:5:", "parameters.lr.min", "min (0.1) must be less than max (0.01)"});
}

TEST(SpaceConfig, MinEqualToMax) {
  expect_error("method: random\nrun_cap: 5\nparameters:\n  depth: {min: 3, max: 3}\n",
               {"sweep.yaml:4:", "parameters.depth.min", "must be less than max"});
}

TEST(SpaceConfig, LogRangeWithMinNotPositive) {
  expect_error(
      "method: random\nrun_cap: 5\nparameters:\n  lr:\n    distribution: log_uniform_values\n    min: 0\n    max: "
      "0.1\n",
      {"sweep.yaml:6:", "parameters.lr.min", "min > 0"});
}

TEST(SpaceConfig, GridOverAContinuousRange) {
  expect_error("method: grid\nparameters:\n  depth: {values: [1, 2]}\n  lr: {min: 0.001, max: 0.1}\n",
               {"sweep.yaml:4:", "parameters.lr", "grid search cannot enumerate distribution uniform"});
}

TEST(SpaceConfig, EmptyValues) {
  expect_error("method: random\nrun_cap: 5\nparameters:\n  activation:\n    values: []\n",
               {"sweep.yaml:5:", "parameters.activation.values", "non-empty list"});
}

TEST(SpaceConfig, ProbabilitiesOfTheWrongLength) {
  expect_error(
      "method: random\nrun_cap: 5\nparameters:\n  depth:\n    values: [1, 2, 3]\n    probabilities: [0.5, 0.5]\n",
      {"sweep.yaml:6:", "parameters.depth.probabilities", "list of 3 numbers"});
}

TEST(SpaceConfig, ProbabilitiesNotSummingToOne) {
  expect_error("method: random\nrun_cap: 5\nparameters:\n  depth:\n    values: [1, 2]\n    probabilities: [0.5, 0.6]\n",
               {"sweep.yaml:6:", "parameters.depth.probabilities", "must sum to 1, got 1.1"});
}

TEST(SpaceConfig, BadParameterName) {
  expect_error("method: random\nrun_cap: 5\nparameters:\n  9lr: {min: 0.1, max: 1.0}\n",
               {"sweep.yaml:4:", "parameters.9lr", "invalid parameter name"});
}

TEST(SpaceConfig, UnknownParameterNameListsTheKnownOnes) {
  expect_error("method: random\nrun_cap: 5\nparameters:\n  label_smoothing: {min: 0.1, max: 0.5}\n",
               {"sweep.yaml:4:", "parameters.label_smoothing", "unknown hyperparameter", "lr", "weight_decay",
                "early_stopping"});
}

TEST(SpaceConfig, UnknownDistribution) {
  expect_error(
      "method: random\nrun_cap: 5\nparameters:\n  lr:\n    distribution: loguniform\n    min: 0.1\n    max: 1.0\n",
      {"sweep.yaml:5:", "parameters.lr.distribution", "unknown distribution 'loguniform'", "log_uniform_values"});
}

// The basic sweep of W&B's documentation, as it is there: no run_cap (W&B runs it until it is
// stopped) and no mlptune section.
TEST(SpaceConfig, TheWandbDocumentationsBasicSweepIsAcceptedAsItIs) {
  const StudyConfig config = load_study_config(std::string(MLPTUNE_SOURCE_DIR) + "/experiments/wandb_sweepdemo.yaml");
  EXPECT_EQ(config.name, "sweepdemo");
  EXPECT_EQ(config.method, Method::bayes);
  EXPECT_EQ(config.run_cap, 0) << "no cap: the study runs until a timeout or Ctrl-C";
  EXPECT_FALSE(config.settings.timeout_seconds.has_value());
  EXPECT_EQ(config.metric.name, "validation_loss");
  EXPECT_EQ(config.metric.goal, Goal::minimize);
  EXPECT_EQ(distribution_of(config, "learning_rate").kind, DistributionKind::uniform) << "kept as the file names it";
  EXPECT_EQ(distribution_of(config, "batch_size").values.size(), 3u);
  EXPECT_EQ(distribution_of(config, "epochs").values.size(), 3u);
  EXPECT_EQ(distribution_of(config, "optimizer").values.size(), 2u);
}

TEST(SpaceConfig, TimeoutReadsTheFormsPeopleWrite) {
  const std::string head = "method: random\nparameters:\n  lr: {min: 0.1, max: 1.0}\nmlptune: {timeout: ";
  for (const auto& [text, seconds] : std::vector<std::pair<std::string, double>>{{"600", 600.0},
                                                                                 {"1.5", 1.5},
                                                                                 {"90s", 90.0},
                                                                                 {"10m", 600.0},
                                                                                 {"1h30m", 5400.0},
                                                                                 {"2h", 7200.0},
                                                                                 {"1h0m30s", 3630.0},
                                                                                 {"0.5h", 1800.0}}) {
    const StudyConfig config = parse_study_config(head + text + "}\n", "sweep.yaml");
    ASSERT_TRUE(config.settings.timeout_seconds.has_value()) << text;
    EXPECT_DOUBLE_EQ(*config.settings.timeout_seconds, seconds) << text;
  }
}

TEST(SpaceConfig, ATimeoutThatIsNoDurationSaysHowToWriteOne) {
  for (const std::string text : {"10x", "m", "30m1h", "1h30", "0", "0s", "-5", "1.2.3s", "10 m", "''"})
    expect_error("method: random\nparameters:\n  lr: {min: 0.1, max: 1.0}\nmlptune:\n  timeout: " + text + "\n",
                 {"sweep.yaml:5:", "mlptune.timeout", "a duration such as 90s, 10m, 1h30m", "more than 0"});
}

TEST(SpaceConfig, RunCapNotPositive) {
  expect_error("method: random\nrun_cap: 0\nparameters:\n  lr: {min: 0.1, max: 1.0}\n",
               {"sweep.yaml:2:", "run_cap", "must be a whole number in [1, 2147483647]"});
}

TEST(SpaceConfig, EtaNotAboveOne) {
  expect_error(
      "method: random\nrun_cap: 5\nparameters:\n  lr: {min: 0.1, max: 1.0}\nearly_terminate:\n  type: hyperband\n"
      "  min_iter: 1\n  eta: 1\n",
      {"sweep.yaml:8:", "early_terminate.eta", "greater than 1"});
}

TEST(SpaceConfig, WrongTypeNamesTheKey) {
  expect_error("method: random\nrun_cap: lots\nparameters:\n  lr: {min: 0.1, max: 1.0}\n",
               {"sweep.yaml:2:", "run_cap", "whole number", "'lots'"});
}

TEST(SpaceConfig, YamlSyntaxErrorHasALine) {
  expect_error("method: random\nparameters: [\n", {"sweep.yaml:", "YAML syntax error"});
}

TEST(SpaceConfig, MedianPrunerSettings) {
  const StudyConfig config = parse_study_config(
      "method: random\nrun_cap: 5\nparameters:\n  lr: {min: 0.1, max: 1.0}\nearly_terminate:\n  type: median\n"
      "  warmup_epochs: 2\n  startup_trials: 4\n",
      "sweep.yaml");
  EXPECT_EQ(config.early_terminate.type, PrunerKind::median);
  EXPECT_EQ(config.early_terminate.warmup_epochs, 2);
  EXPECT_EQ(config.early_terminate.startup_trials, 4);
}

// The exact message of the ConfigError that parsing `text` throws.
std::string error_of(const std::string& text) {
  try {
    parse_study_config(text, "sweep.yaml");
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "(no error)";
}

constexpr const char* kHead = "method: random\nrun_cap: 5\nparameters:\n";  // parameters start on line 4

TEST(SpaceConfig, TextThatIsNotUtf8IsRefusedAtItsKeyAndLine) {
  // Such bytes once reached the storage's JSON and failed there, after the trial had run.
  EXPECT_EQ(error_of(std::string(kHead) + "  \"l\xB2r\": {value: 0.1}\n"),
            "sweep.yaml:4: parameters.l\\xB2r: the key 'l\\xB2r' is not UTF-8 text (byte 0xB2 at position 2); "
            "write it in UTF-8, e.g. save the file as UTF-8");
  EXPECT_EQ(error_of(std::string(kHead) + "  lr: {value: 0.1}\n  activation: {values: [relu, \"t\xB2nh\"]}\n"),
            "sweep.yaml:5: parameters.activation.values: the value 't\\xB2nh' is not UTF-8 text (byte 0xB2 at "
            "position 2); write it in UTF-8, e.g. save the file as UTF-8");
  expect_error(std::string(kHead) + "  lr: {value: 0.1}\nname: \"st\xB2udy\"\n", {"sweep.yaml:5:", "name:", "0xB2"});
  // An overlong form of '/' and a lone surrogate are not UTF-8 either.
  expect_error(std::string(kHead) + "  lr: {value: 0.1}\ndescription: \"a\xC0\xAF\"\n", {"sweep.yaml:5:", "0xC0"});
  expect_error(std::string(kHead) + "  lr: {value: 0.1}\ndescription: \"a\xED\xA0\x80\"\n", {"sweep.yaml:5:", "0xED"});
  EXPECT_EQ(error_of("# caf\xE9\n" + std::string(kHead) + "  lr: {value: 0.1}\n"),
            "sweep.yaml:1: the file is not UTF-8 text (a byte \\xE9); save it as UTF-8");
  const StudyConfig accented = parse_study_config(
      std::string(kHead) + "  lr: {value: 0.1}\ndescription: \"caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x9A\x80\"\n",
      "sweep.yaml");
  EXPECT_EQ(accented.description, "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x9A\x80");
}

TEST(SpaceConfig, AConstantOutOfRangeIsRefusedAtItsLineWithItsYamlName) {
  EXPECT_EQ(error_of(std::string(kHead) + "  lr: {value: -1}\n"),
            "sweep.yaml:4: parameters.lr: must be > 0 and finite (got -1)");
  EXPECT_EQ(error_of(std::string(kHead) + "  epochs: {value: 2}\n  learning_rate:\n    value: 0\n"),
            "sweep.yaml:6: parameters.learning_rate: must be > 0 and finite (got 0)");
  EXPECT_EQ(error_of(std::string(kHead) + "  activation: {value: swish}\n"),
            "sweep.yaml:4: parameters.activation: unknown activation 'swish': use relu, tanh, sigmoid, gelu or "
            "identity");
  EXPECT_EQ(error_of(std::string(kHead) + "  hidden: {value: \"64,0\"}\n"),
            "sweep.yaml:4: parameters.hidden: must be widths >= 1 separated by commas, e.g. \"256,128\" (got '64,0')");
}

TEST(SpaceConfig, EveryListedChoiceMustBeAValidValue) {
  EXPECT_EQ(error_of(std::string(kHead) + "  batch_size:\n    values:\n      - 16\n      - 0\n"),
            "sweep.yaml:7: parameters.batch_size: must be >= 1 (got 0)");
  EXPECT_EQ(error_of(std::string(kHead) + "  momentum: {values: [0.9, 1.5]}\n"),
            "sweep.yaml:4: parameters.momentum: must be in [0, 1) (got 1.5)");
}

TEST(SpaceConfig, ARangeThatDrawsInvalidValuesIsRefusedAtItsBound) {
  EXPECT_EQ(error_of(std::string(kHead) + "  batch_size: {min: 0, max: 64}\n"),
            "sweep.yaml:4: parameters.batch_size.min: must be >= 1 (got 0) at the min end of the range; narrow the "
            "range to valid values");
  expect_error(std::string(kHead) + "  lr: {min: -1.0, max: 0.1}\n", {"sweep.yaml:4:", "parameters.lr.min", "got -1"});
  expect_error(std::string(kHead) + "  momentum:\n    min: 0.5\n    max: 1.5\n",
               {"sweep.yaml:6:", "parameters.momentum.max", "in [0, 1) (got 1.5)"});
  // Only the bound itself is out: every value drawn above 0 (or below 1) is fine.
  EXPECT_NO_THROW(parse_study_config(std::string(kHead) + "  lr: {min: 0.0, max: 0.1}\n", "sweep.yaml"));
  EXPECT_NO_THROW(parse_study_config(std::string(kHead) + "  momentum: {min: 0.5, max: 1.0}\n", "sweep.yaml"));
}

TEST(SpaceConfig, AFirstRungBeyondTheEpochsATrialTrainsIsRefused) {
  EXPECT_EQ(error_of(std::string(kHead) + "  epochs: {value: 3}\nearly_terminate:\n  type: asha\n  min_iter: 9\n"),
            "sweep.yaml:7: early_terminate.min_iter: is 9, more than the 3 epochs a trial trains (the most "
            "parameters.epochs gives); lower min_iter, or give max_iter");
  expect_error(std::string(kHead) + "  lr: {value: 0.1}\nearly_terminate: {type: hyperband, min_iter: 11}\n",
               {"sweep.yaml:5:", "early_terminate.min_iter", "more than the 10 epochs", "the default epochs"});
  expect_error(
      std::string(kHead) + "  lr: {value: 0.1}\nearly_terminate: {type: hyperband, min_iter: 9, max_iter: 3}\n",
      {"sweep.yaml:5:", "early_terminate.min_iter", "must be less than max_iter (3)"});
  EXPECT_NO_THROW(parse_study_config(
      std::string(kHead) + "  epochs: {values: [3, 9]}\nearly_terminate: {type: asha, min_iter: 9}\n", "sweep.yaml"));
}

TEST(SpaceConfig, AnUnknownMetricListsEachNameOnce) {
  EXPECT_EQ(error_of(std::string(kHead) + "  lr: {value: 0.1}\nmetric: {name: f1}\n"),
            "sweep.yaml:5: metric.name: unknown metric 'f1': use validation_loss (or val_loss, loss), "
            "validation_accuracy (or val_accuracy, accuracy), validation_rmse (or val_rmse, rmse) or train_loss");
  const StudyConfig config =
      parse_study_config(std::string(kHead) + "  lr: {value: 0.1}\nmetric: {name: val_rmse}\n", "sweep.yaml");
  EXPECT_EQ(config.metric.name, "validation_rmse") << "every alias parse_metric knows";
}

TEST(SpaceConfig, UnknownNamesListTheAcceptedOnesFromTheirTables) {
  EXPECT_EQ(error_of(std::string(kHead) + "  lr: {value: 0.1}\nmlptune: {backend: gpu}\n"),
            "sweep.yaml:5: mlptune.backend: unknown backend 'gpu': use cpu, cuda or auto");
  EXPECT_EQ(error_of("method: evolution\nrun_cap: 5\nparameters:\n  lr: {value: 0.1}\n"),
            "sweep.yaml:1: method: unknown method 'evolution': use grid, random, bayes or sobol");
  EXPECT_EQ(error_of(std::string(kHead) + "  lr: {value: 0.1}\nearly_terminate: {type: pbt}\n"),
            "sweep.yaml:5: early_terminate.type: unknown early_terminate type 'pbt': use hyperband, median or asha");
}

TEST(SpaceConfig, UnknownParameterListsEachNameOnceWithItsAliases) {
  const std::string message = error_of(std::string(kHead) + "  label_smoothing: {value: 0.1}\n");
  EXPECT_NE(message.find("lr (or learning_rate)"), std::string::npos) << message;
  EXPECT_EQ(message.find(", learning_rate"), std::string::npos) << message;
}

TEST(SpaceConfig, LoadNamesAMissingFile) {
  try {
    load_study_config("/nonexistent/sweep.yaml");
    FAIL();
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/sweep.yaml"), std::string::npos);
  }
}

TEST(SpaceConfig, NamesOfEnums) {
  EXPECT_EQ(to_string(Method::sobol), "sobol");
  EXPECT_EQ(to_string(Goal::maximize), "maximize");
  EXPECT_EQ(to_string(DistributionKind::q_log_uniform_values), "q_log_uniform_values");
  EXPECT_EQ(to_string(RunState::pruned), "pruned");
  EXPECT_EQ(to_string(ParamValue(std::int64_t{3})), "3");
  EXPECT_EQ(std::stod(to_string(ParamValue(1e-4))), 1e-4);  // shortest text that reads back exactly
  EXPECT_EQ(to_string(ParamValue(0.25)), "0.25");
  EXPECT_EQ(to_string(ParamValue(std::string("256,128"))), "256,128");
}

// What rung schedules count up to without max_iter: the most epochs the space gives a trial.
TEST(SpaceConfig, TheLargestEpochsComeFromTheEpochsParameter) {
  const auto largest = [](const std::string& epochs) {
    return space::largest_epochs(
        parse_study_config("method: random\nrun_cap: 2\nparameters:\n  epochs: " + epochs + "\n", "e.yaml").space);
  };
  EXPECT_EQ(largest("{values: [4, 12, 8]}"), 12);
  EXPECT_EQ(largest("{value: 7}"), 7);
  EXPECT_EQ(largest("{min: 2, max: 5}"), 5) << "the top of a range, not the default 10";
  EXPECT_EQ(space::largest_epochs(
                parse_study_config("method: random\nrun_cap: 2\nparameters:\n  lr: {value: 0.1}\n", "e.yaml").space),
            std::nullopt);
}

TEST(SpaceConfig, CheckpointEveryIsSecondsFromZeroToADay) {
  const auto parse = [](const std::string& every) {
    return parse_study_config(
        "method: random\nrun_cap: 2\nparameters:\n  lr: {value: 0.1}\nmlptune:\n"
        "  checkpoint_every: " +
            every + "\n",
        "c.yaml");
  };
  EXPECT_EQ(parse("0").settings.checkpoint_every_seconds, 0.0);
  EXPECT_EQ(parse("120").settings.checkpoint_every_seconds, 120.0);
  EXPECT_EQ(StudySettings{}.checkpoint_every_seconds, 30.0);
  for (const char* bad : {"-1", "1e9", ".nan"}) {
    try {
      parse(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const ConfigError& error) {
      EXPECT_NE(std::string(error.what()).find("c.yaml:6: mlptune.checkpoint_every: "), std::string::npos)
          << error.what();
      if (std::string(bad) != ".nan")
        EXPECT_NE(std::string(error.what()).find("in [0, 86400]"), std::string::npos) << error.what();
    }
  }
}

// A user's file: its task and a test file of its own, both part of the data a study is run on.
TEST(SpaceConfig, TaskAndTestDataDescribeAUsersFile) {
  const auto parse = [](const std::string& section) {
    return parse_study_config("method: random\nrun_cap: 2\nparameters:\n  lr: {value: 0.1}\nmlptune:\n" + section,
                              "t.yaml");
  };
  const StudyConfig config = parse("  data: rows.csv\n  task: regression\n  test_data: test.csv\n");
  EXPECT_EQ(config.settings.task, Task::regression);
  EXPECT_EQ(config.settings.test_data_path, "test.csv");
  const DataSpec data = study_data_spec(config.settings);
  EXPECT_EQ(data.path, "rows.csv");
  EXPECT_EQ(data.task, Task::regression);
  EXPECT_EQ(data.test_path, "test.csv");
  EXPECT_EQ(parse("  data: rows.csv\n").settings.task, Task::classification);
  const std::pair<const char*, const char*> refused[] = {
      {"  data: rows.csv\n  task: ranking\n",
       "t.yaml:7: mlptune.task: unknown task 'ranking': use classification or regression"},
      {"  dataset: iris\n  task: regression\n", "t.yaml:7: mlptune.task: is for data"},
      {"  test_data: test.csv\n", "t.yaml:6: mlptune.test_data: goes with data"}};
  for (const auto& [section, message] : refused) {
    try {
      parse(section);
      ADD_FAILURE() << section << " was accepted";
    } catch (const ConfigError& error) {
      EXPECT_NE(std::string(error.what()).find(message), std::string::npos) << error.what();
    }
  }
}

}  // namespace
}  // namespace mlptune::tune
