// The setting tables as the program shows them: a flag with its help and default in `mlptune train
// --help` for every entry that has one, the reproducing `mlptune train` line of a trial reproducing
// each entry exactly, and a saved model's settings read back by `mlptune summary`.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_test_support.hpp"
#include "engine/backend_names.hpp"
#include "mlptune/safetensors.hpp"
#include "mlptune/tune/study.hpp"
#include "nn/settings.hpp"
#include "setting_values.hpp"

namespace {

using namespace mlptune;
using namespace mlptune::testing;

// The line of --help that shows `flag` (first, before its aliases: "--lr,--learning-rate"), or ""
// when it is not there.
std::string help_line(const std::string& help, const std::string& flag) {
  std::size_t at = help.find("    " + flag + " ");
  if (at == std::string::npos) at = help.find("    " + flag + ",");
  if (at == std::string::npos) return "";
  return help.substr(at, help.find('\n', at) - at);
}

template <class Owner>
void expect_flags_in_help(const std::string& help, const std::vector<Setting<Owner>>& table, const Owner& defaults) {
  for (const auto& setting : table) {
    const std::string line = help_line(help, setting.flag());
    if (!setting.has_flag()) {
      EXPECT_EQ(line, "") << setting.name << " is the data's, not a flag";
      continue;
    }
    ASSERT_NE(line, "") << setting.flag() << " is not in --help:\n" << help;
    EXPECT_NE(line.find(setting.help), std::string::npos) << line;
    if (setting.kind == SettingKind::on_off) continue;  // a switch shows no default
    const std::string shown = setting.unset.empty() ? setting.text_of(defaults) : std::string(setting.unset);
    EXPECT_NE(line.find("=" + shown + " "), std::string::npos) << line << "\nlacks the default " << shown;
  }
}

TEST_F(Cli, EverySettingWithAFlagIsInTrainHelpWithItsDefault) {
  const ProgramRun help = run_mlptune("train --help");
  ASSERT_EQ(help.status, 0) << help.output;
  expect_flags_in_help(help.output, train_settings(), TrainConfig{});
  expect_flags_in_help(help.output, model_settings(), model_defaults());
  EXPECT_NE(help_line(help.output, "--backend").find(kBackendNames.accepted_names()), std::string::npos) << help.output;
}

// iris as `mlptune train --dataset iris` shapes it; two epochs of 8 units keep each run short.
TrialSpec iris_spec() {
  TrialSpec spec;
  spec.model = model_defaults();
  spec.model.input_width = 4;
  spec.model.output_width = 3;
  spec.model.hidden = {8};
  spec.train.epochs = 2;
  return spec;
}

class ReproducingLine : public Cli {
 protected:
  // The trial's reproducing line, run; the spec it trained, from its metrics file.
  TrialSpec run_line(const TrialSpec& spec) {
    const std::string line = tune::train_command_line(spec, {"iris", "", ""}, BackendKind::cpu);
    EXPECT_EQ(line.rfind("mlptune train ", 0), 0u) << line;
    const ProgramRun run = run_mlptune(line.substr(std::strlen("mlptune ")) + " --quiet --metrics " + path("run.json"));
    EXPECT_EQ(run.status, 0) << line << "\n" << run.output;
    nlohmann::json trained = nlohmann::json::parse(read_file(path("run.json"))).at("spec");
    trained["model"].erase("parameter_count");  // derived, no setting
    return {model_from_json(trained["model"]), train_config_from_json(trained["train"])};
  }

  // Each entry the line writes, changed alone as a study changes it: a searched one through
  // params_to_spec, the seed as the study sets it.
  template <class Owner>
  void expect_each_entry_reproduced(const std::vector<Setting<Owner>>& table, Owner TrialSpec::*part) {
    for (const auto& setting : table) {
      if (!setting.in_command_line()) continue;
      SCOPED_TRACE(std::string(setting.name));
      TrialSpec spec = iris_spec();
      const Owner changed = with_other_value(setting, spec.*part);
      if (setting.is_parameter()) {
        spec = tune::params_to_spec({{std::string(setting.name), as_param(setting, setting.get(changed))}}, spec);
      } else {
        spec.*part = changed;
      }
      ASSERT_EQ(spec.*part, changed);
      const TrialSpec trained = run_line(spec);
      EXPECT_EQ(trained.model, spec.model);
      EXPECT_EQ(trained.train, spec.train);
    }
  }
};

TEST_F(ReproducingLine, ReproducesEveryTrainEntryExactly) {
  expect_each_entry_reproduced(train_settings(), &TrialSpec::train);
}

TEST_F(ReproducingLine, ReproducesEveryModelEntryExactly) {
  expect_each_entry_reproduced(model_settings(), &TrialSpec::model);
}

TEST_F(ReproducingLine, ReproducesALineWithNoHiddenLayer) {
  TrialSpec spec = iris_spec();
  spec.model.hidden.clear();
  EXPECT_EQ(run_line(spec).model, spec.model);
}

TEST_F(Cli, SummaryReadsASavedModelsSettingsBackAndRefusesOnesThatWouldNotTrain) {
  ASSERT_EQ(run_mlptune(kSmallRun + " --save " + path("model.safetensors")).status, 0);
  TrialState state = load_trial_state(path("model.safetensors"));
  nlohmann::json spec = nlohmann::json::parse(read_safetensors(path("model.safetensors")).metadata.at("mlptune.spec"));
  spec["train"]["lr"] = -1;
  save_trial_state(path("edited.safetensors"), state, false, {{"mlptune.spec", spec.dump()}});
  const ProgramRun run = run_mlptune("summary " + path("edited.safetensors"));
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(
      run.output.find("edited.safetensors: the 'mlptune.spec' metadata: train.lr: must be > 0 and finite (got -1)"),
      std::string::npos)
      << run.output;
}

}  // namespace
