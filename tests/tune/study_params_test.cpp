// Sampled params to trial settings, the reproducing `mlptune train` line, trial seeds and metric names.
#include <gtest/gtest.h>

#include "mlptune/error.hpp"
#include "mlptune/tune/study.hpp"

namespace mlptune::tune {
namespace {

TrialSpec base_spec() {
  TrialSpec spec;
  spec.model.input_width = 64;
  spec.model.output_width = 10;
  spec.model.hidden = {256};
  return spec;
}

TEST(ParamsToSpec, SetsEveryNamedSetting) {
  const Params params = {{"learning_rate", 0.003},
                         {"batch_size", std::int64_t(64)},
                         {"epochs", std::int64_t(7)},
                         {"hidden", std::string("128,32")},
                         {"activation", std::string("tanh")},
                         {"optimizer", std::string("momentum")},
                         {"momentum", 0.8},
                         {"beta1", 0.85},
                         {"beta2", 0.99},
                         {"epsilon", 1e-7},
                         {"weight_decay", 1e-4},
                         {"schedule", std::string("step")},
                         {"warmup", 0.5},
                         {"step_epochs", std::int64_t(3)},
                         {"step_gamma", 0.5},
                         {"init", std::string("xavier")},
                         {"early_stopping", std::int64_t(2)}};
  const TrialSpec spec = params_to_spec(params, base_spec());
  EXPECT_DOUBLE_EQ(spec.train.learning_rate, 0.003);
  EXPECT_EQ(spec.train.batch_size, 64);
  EXPECT_EQ(spec.train.epochs, 7);
  EXPECT_EQ(spec.model.hidden, (std::vector<int>{128, 32}));
  EXPECT_EQ(spec.model.activation, Activation::tanh);
  EXPECT_EQ(spec.train.optimizer, Optimizer::momentum);
  EXPECT_DOUBLE_EQ(spec.train.momentum, 0.8);
  EXPECT_DOUBLE_EQ(spec.train.beta1, 0.85);
  EXPECT_DOUBLE_EQ(spec.train.beta2, 0.99);
  EXPECT_DOUBLE_EQ(spec.train.epsilon, 1e-7);
  EXPECT_DOUBLE_EQ(spec.train.weight_decay, 1e-4);
  EXPECT_EQ(spec.train.schedule, Schedule::step);
  EXPECT_DOUBLE_EQ(spec.train.warmup_epochs, 0.5);
  EXPECT_EQ(spec.train.step_epochs, 3);
  EXPECT_DOUBLE_EQ(spec.train.step_gamma, 0.5);
  EXPECT_EQ(spec.model.init, Init::xavier);
  EXPECT_EQ(spec.train.early_stopping_patience, 2);
  EXPECT_EQ(spec.model.input_width, 64);
}

TEST(ParamsToSpec, DepthAndWidthShapeTheHiddenLayers) {
  EXPECT_EQ(params_to_spec({{"depth", std::int64_t(3)}, {"width", std::int64_t(40)}}, base_spec()).model.hidden,
            (std::vector<int>{40, 40, 40}));
  EXPECT_EQ(params_to_spec({{"width", std::int64_t(40)}}, base_spec()).model.hidden, (std::vector<int>{40}));
  EXPECT_TRUE(params_to_spec({{"depth", std::int64_t(0)}}, base_spec()).model.hidden.empty());
  EXPECT_EQ(params_to_spec({{"hidden", std::int64_t(512)}}, base_spec()).model.hidden, (std::vector<int>{512}));
  EXPECT_EQ(params_to_spec({{"lr", std::int64_t(1)}}, base_spec()).train.learning_rate, 1.0);
}

TEST(ParamsToSpec, RejectsUnknownNamesWrongTypesAndConflicts) {
  EXPECT_THROW(params_to_spec({{"label_smoothing", 0.1}}, base_spec()), ConfigError);
  EXPECT_THROW(params_to_spec({{"batch_size", 12.5}}, base_spec()), ConfigError);
  EXPECT_THROW(params_to_spec({{"epochs", 1e20}}, base_spec()), ConfigError);  // beyond int: no undefined cast
  EXPECT_THROW(params_to_spec({{"activation", 0.5}}, base_spec()), ConfigError);
  EXPECT_THROW(params_to_spec({{"hidden", std::string("64,x")}}, base_spec()), ConfigError);
  EXPECT_THROW(params_to_spec({{"hidden", std::string("64")}, {"depth", std::int64_t(2)}}, base_spec()), ConfigError);
  SearchSpace space;
  space.parameters.push_back({"label_smoothing", {}, 9});
  try {
    check_tunable(space);
    FAIL() << "label_smoothing is no trial setting";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("line 9"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("learning_rate"), std::string::npos);
  }
}

TEST(TrainCommandLine, GivesEveryFlagThatDecidesTheTrial) {
  TrialSpec spec = params_to_spec({{"hidden", std::string("128,32")},
                                   {"lr", 0.0012345678901234567},
                                   {"optimizer", std::string("adamw")},
                                   {"batch_size", std::int64_t(64)}},
                                  base_spec());
  spec.train.seed = 18446744073709551615ull;
  EXPECT_EQ(train_command_line(spec, {"digits", "", ""}, BackendKind::cpu),
            "mlptune train --dataset digits --hidden 128,32 --activation relu --init he --optimizer adamw "
            "--lr 0.0012345678901234567 --momentum 0.9 --beta1 0.9 --beta2 0.999 --epsilon 1e-08 --weight-decay 0 "
            "--dropout 0 --clip-norm 0 "
            "--schedule constant --warmup 0 --step-epochs 10 --step-gamma 0.1 --early-stopping 0 --batch-size 64 "
            "--epochs 10 --seed 18446744073709551615 --backend cpu");
  spec.model.hidden.clear();
  const std::string line = train_command_line(spec, {"digits", "my data.csv", "label"}, BackendKind::cuda);
  EXPECT_NE(line.find("--data 'my data.csv' --label-column label --hidden ''"), std::string::npos) << line;
  EXPECT_NE(line.find("--backend cuda"), std::string::npos);
  DataSpec own_files{"digits", "rows.csv", "y", Task::regression};
  own_files.test_path = "test rows.csv";
  const std::string regression = train_command_line(spec, own_files, BackendKind::cpu);
  EXPECT_NE(regression.find("--data rows.csv --test-data 'test rows.csv' --label-column y --task regression "),
            std::string::npos)
      << regression;
}

TEST(TrialSeed, DependsOnStudySeedAndNumberOnly) {
  EXPECT_EQ(trial_seed(7, 3), trial_seed(7, 3));
  EXPECT_NE(trial_seed(7, 3), trial_seed(7, 4));
  EXPECT_NE(trial_seed(7, 3), trial_seed(8, 3));
}

TEST(Metric, NamesAndAliases) {
  EXPECT_EQ(parse_metric("val_loss"), MetricKind::validation_loss);
  EXPECT_EQ(parse_metric("accuracy"), MetricKind::validation_accuracy);
  EXPECT_EQ(parse_metric("val_accuracy"), MetricKind::validation_accuracy);
  EXPECT_EQ(parse_metric("validation_rmse"), MetricKind::validation_rmse);
  EXPECT_EQ(parse_metric("loss"), MetricKind::validation_loss) << "as a study config has always read it";
  EXPECT_EQ(parse_metric("train_loss"), MetricKind::train_loss);
  EXPECT_EQ(to_string(MetricKind::validation_accuracy), "validation_accuracy");
  EXPECT_THROW(parse_metric("f1"), ConfigError);
  EpochReport report;
  report.train_loss = 0.5;
  report.validation.loss = 0.4;
  report.validation.accuracy = 0.9;
  EXPECT_EQ(metric_value(report, MetricKind::train_loss), 0.5);
  EXPECT_EQ(metric_value(report, MetricKind::validation_accuracy), 0.9);
}

TEST(Metric, TheListOfNamesHasEachMetricOnceWithItsAliases) {
  try {
    parse_metric("f1");
    FAIL() << "f1 is no metric";
  } catch (const ConfigError& error) {
    EXPECT_STREQ(error.what(),
                 "unknown metric 'f1': use validation_loss (or val_loss, loss), validation_accuracy (or val_accuracy, "
                 "accuracy), validation_rmse (or val_rmse, rmse) or train_loss");
  }
}

TEST(ParamsToSpec, AnOutOfRangeValueNamesTheParameterAsTheStudyConfigDoes) {
  // A sampled value (a normal distribution's tail, say) reaches params_to_spec unchecked.
  try {
    params_to_spec({{"lr", -0.25}}, base_spec());
    FAIL() << "lr -0.25 accepted";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind("parameters.lr: must be > 0 and finite (got -0.25)", 0), 0u) << message;
    EXPECT_EQ(message.find("--lr"), std::string::npos) << message;
  }
  try {
    params_to_spec({{"learning_rate", 0.1}, {"batch_size", std::int64_t(0)}}, base_spec());
    FAIL() << "batch_size 0 accepted";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()).rfind("parameters.batch_size: must be >= 1 (got 0)", 0), 0u) << error.what();
  }
}

TEST(ParamsToSpec, CheckParameterValueNamesTheCanonicalSetting) {
  EXPECT_NO_THROW(check_parameter_value("learning_rate", 0.1));
  try {
    check_parameter_value("learning_rate", -1.0);
    FAIL() << "learning_rate -1 accepted";
  } catch (const SettingError& error) {
    EXPECT_EQ(error.setting(), "lr");
    EXPECT_EQ(error.requirement(), "must be > 0 and finite (got -1)");
  }
  try {
    check_parameter_value("activation", std::string("swish"));
    FAIL() << "swish accepted";
  } catch (const SettingError& error) {
    EXPECT_EQ(error.setting(), "activation");
    EXPECT_EQ(error.requirement(), "unknown activation 'swish': use relu, tanh, sigmoid, gelu or identity");
  }
  EXPECT_EQ(canonical_parameter_name("learning_rate"), "lr");
  EXPECT_EQ(canonical_parameter_name("label_smoothing"), std::nullopt);
  EXPECT_NE(tunable_parameter_list().find("lr (or learning_rate)"), std::string::npos) << tunable_parameter_list();
}

}  // namespace
}  // namespace mlptune::tune
