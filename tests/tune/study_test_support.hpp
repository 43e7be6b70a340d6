// Helpers for the storage, study and export tests: a temporary folder per test, a fork helper, and
// a fast fake Backend that trains nothing and reports a value computed from the trial's settings.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "mlptune/backend.hpp"
#include "mlptune/tune/storage.hpp"
#include "mlptune/tune/study.hpp"
#include "temp_folder.hpp"

namespace mlptune::tune::testing {

using ::mlptune::testing::TempFolder;

// Runs `body` in a child process; the child exits 0 when body returns, 1 when it throws.
inline pid_t fork_child(const std::function<void()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 0;
    try {
      body();
    } catch (const std::exception& error) {
      std::fprintf(stderr, "child %d: %s\n", int(::getpid()), error.what());
      code = 1;
    }
    std::fflush(nullptr);
    ::_exit(code);
  }
  return pid;
}

inline int wait_exit_code(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A pid that belongs to no running process: a child that has exited and been reaped.
inline int dead_pid() {
  const pid_t pid = fork_child([] {});
  wait_exit_code(pid);
  return int(pid);
}

// The fake trainer's metric: a smooth function of learning rate and batch size that falls with
// each epoch, so rankings are known in advance and promotions have something to compare.
inline double fake_validation_loss(const TrialSpec& spec, int epoch) {
  const double lr_term = std::abs(std::log10(spec.train.learning_rate) + 2.0);  // best at lr = 0.01
  return lr_term + 1.0 / (1.0 + epoch) + 1e-4 * spec.train.batch_size;
}

class FakeTrainer final : public Trainer {
 public:
  FakeTrainer(const TrialSpec& spec, int sleep_ms, std::atomic<int>& epochs_trained)
      : spec_(spec), sleep_ms_(sleep_ms), epochs_trained_(epochs_trained) {
    state_.model = spec.model;
    const auto layers = spec.model.layers();
    for (std::size_t i = 0; i < layers.size(); ++i) {  // parameters shaped as the model, for save_trial_state
      const std::string prefix = "layers." + std::to_string(i) + ".";
      state_.parameters.push_back({prefix + "weight",
                                   {layers[i].out, layers[i].in},
                                   std::vector<float>(std::size_t(layers[i].weight_count()), 0.5f)});
      state_.parameters.push_back(
          {prefix + "bias", {layers[i].out}, std::vector<float>(std::size_t(layers[i].out), 0.f)});
    }
  }

  EpochReport train_epoch() override {
    if (finished_) throw std::logic_error("train_epoch after the end");
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    ++state_.epoch;
    ++epochs_trained_;
    state_.step += 10;
    EpochReport report;
    report.epoch = state_.epoch;
    report.step = state_.step;
    report.validation.loss = fake_validation_loss(spec_, state_.epoch);
    report.validation.accuracy = 1.0 / (1.0 + report.validation.loss);
    report.train_loss = report.validation.loss * 0.9;
    report.status = TrialStatus::running;
    if (spec_.train.learning_rate > 0.5) {  // the fake "diverges" at very high learning rates
      report.status = TrialStatus::diverged;
      report.message = "diverged at epoch " + std::to_string(state_.epoch) + ", step " + std::to_string(state_.step);
      report.validation.loss = std::nan("");
    } else if (state_.epoch >= spec_.train.epochs) {
      report.status = TrialStatus::completed;
    }
    finished_ = report.status != TrialStatus::running;
    return report;
  }
  Metrics evaluate(const Dataset&) override { return {}; }
  std::vector<float> predict(const Dataset&) override { return {}; }
  TrialState state() const override { return state_; }
  void load_state(const TrialState& state) override {
    state_ = state;
    finished_ = state_.epoch >= spec_.train.epochs;
  }
  void extend_epochs(int epochs) override {
    spec_.train.epochs = epochs;
    finished_ = state_.epoch >= epochs;
  }
  const TrialSpec& spec() const override { return spec_; }

 private:
  TrialSpec spec_;
  TrialState state_;
  int sleep_ms_ = 0;
  std::atomic<int>& epochs_trained_;
  bool finished_ = false;
};

class FakeBackend final : public Backend {
 public:
  explicit FakeBackend(int sleep_ms_per_epoch = 2, int concurrency = 3)
      : sleep_ms_(sleep_ms_per_epoch), concurrency_(concurrency) {}
  std::string name() const override { return "fake"; }
  BackendKind kind() const override { return BackendKind::cpu; }
  std::unique_ptr<Trainer> make_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits>) override {
    ++trainers_made;
    return std::make_unique<FakeTrainer>(spec, sleep_ms_, *epochs_trained);
  }
  int recommended_concurrency() const override { return concurrency_; }

  std::atomic<int> trainers_made{0};
  // Over every trainer (a resumed trial must not train an epoch twice); shared, as the study owns the backend.
  std::shared_ptr<std::atomic<int>> epochs_trained = std::make_shared<std::atomic<int>>(0);

 private:
  int sleep_ms_;
  int concurrency_;
};

}  // namespace mlptune::tune::testing

namespace mlptune::tune::testing {

// A sampler for driver tests (the real ones are tested on their own): a log-uniform lr from a
// hash of the number, and a batch size cycling through three choices.
class FakeSampler final : public Sampler {
 public:
  explicit FakeSampler(double max_lr = 0.1) : max_lr_(max_lr) {}
  Params sample(const SearchSpace&, std::span<const FrozenTrial>, Goal, int number) override {
    const double u = double((std::uint64_t(number) * 0x9E3779B97F4A7C15ull) >> 11) * 0x1p-53;
    const double lr = std::exp(std::log(1e-4) + u * (std::log(max_lr_) - std::log(1e-4)));
    return {{"lr", lr}, {"batch_size", std::int64_t(32) << (number % 3)}};
  }

 private:
  double max_lr_;
};

inline StudyConfig fake_study_config(int run_cap, int epochs) {
  StudyConfig config;
  config.name = "fake";
  config.method = Method::random;
  config.run_cap = run_cap;
  Distribution lr;
  lr.kind = DistributionKind::log_uniform_values;
  lr.min = 1e-4;
  lr.max = 1.0;
  Distribution batch;
  batch.kind = DistributionKind::categorical;
  batch.values = {std::int64_t(32), std::int64_t(64), std::int64_t(128)};
  Distribution fixed_epochs;
  fixed_epochs.kind = DistributionKind::constant;
  fixed_epochs.values = {std::int64_t(epochs)};
  config.space.parameters = {{"lr", lr, 1}, {"batch_size", batch, 2}, {"epochs", fixed_epochs, 3}};
  config.settings.seed = 1234;
  config.settings.dataset = "digits";
  return config;
}

// Two features, two classes: the fake trainers read only the shapes.
inline std::shared_ptr<const DataSplits> tiny_data() {
  auto data = std::make_shared<DataSplits>();
  for (Dataset* split : {&data->train, &data->validation, &data->test}) {
    split->rows = 4;
    split->cols = 2;
    split->features.assign(8, 0.5f);
    split->labels = {0, 1, 0, 1};
    split->num_classes = 2;
  }
  return data;
}

// The fake sampler sets lr and batch_size only; epochs come from the constant parameter.
class ConstantEpochsSampler final : public Sampler {
 public:
  ConstantEpochsSampler(int epochs, double max_lr) : epochs_(epochs), inner_(max_lr) {}
  Params sample(const SearchSpace& space, std::span<const FrozenTrial> trials, Goal goal, int number) override {
    Params params = inner_.sample(space, trials, goal, number);
    params["epochs"] = std::int64_t(epochs_);
    return params;
  }

 private:
  int epochs_;
  FakeSampler inner_;
};

inline StudyParts fake_parts(int epochs, int sleep_ms = 2, int concurrency = 3, double max_lr = 0.1,
                             std::shared_ptr<std::atomic<int>>* epochs_trained = nullptr) {
  StudyParts parts;
  auto backend = std::make_unique<FakeBackend>(sleep_ms, concurrency);
  if (epochs_trained) *epochs_trained = backend->epochs_trained;
  parts.backend = std::move(backend);
  parts.data = tiny_data();
  parts.sampler = std::make_unique<ConstantEpochsSampler>(epochs, max_lr);
  return parts;
}

// A Storage that passes every call to another: a test overrides the calls it changes.
class ForwardingStorage : public Storage {
 public:
  explicit ForwardingStorage(std::unique_ptr<Storage> inner) : inner_(std::move(inner)) {}

  std::string location() const override { return inner_->location(); }
  bool record_intermediate(const TrialClaim& claim, int epoch, double value) override {
    return inner_->record_intermediate(claim, epoch, value);
  }
  StudyInfo open_or_create_study(const StudyInfo& wanted) override { return inner_->open_or_create_study(wanted); }
  std::optional<StudyInfo> find_study(const std::string& name) override { return inner_->find_study(name); }
  void change_study_config(int study_id, const std::string& yaml) override {
    inner_->change_study_config(study_id, yaml);
  }
  std::vector<std::string> config_history(int study_id) override { return inner_->config_history(study_id); }
  std::vector<StudyInfo> studies() override { return inner_->studies(); }
  std::optional<TrialRecord> claim_trial(int study_id, const TrialOwner& owner, int run_cap,
                                         const SampleTrialFn& sample) override {
    return inner_->claim_trial(study_id, owner, run_cap, sample);
  }
  std::optional<TrialRecord> claim_paused_trial(int study_id, int number, const TrialOwner& owner) override {
    return inner_->claim_paused_trial(study_id, number, owner);
  }
  bool pause_trial(const TrialClaim& claim, int epoch, const std::string& checkpoint) override {
    return inner_->pause_trial(claim, epoch, checkpoint);
  }
  bool checkpoint_trial(const TrialClaim& claim, int epoch, const std::string& checkpoint) override {
    return inner_->checkpoint_trial(claim, epoch, checkpoint);
  }
  bool suspend_trial(const TrialClaim& claim, int epoch, const std::string& checkpoint) override {
    return inner_->suspend_trial(claim, epoch, checkpoint);
  }
  bool finish_trial(const TrialClaim& claim, RunState state, std::optional<double> value,
                    const std::string& message) override {
    return inner_->finish_trial(claim, state, value, message);
  }
  bool prune_paused_trial(int study_id, int number, const std::string& message) override {
    return inner_->prune_paused_trial(study_id, number, message);
  }
  void heartbeat(const TrialOwner& owner) override { inner_->heartbeat(owner); }
  AbandonedTrials requeue_abandoned_trials(int study_id, const TrialOwner& me, double stale, int max_retries) override {
    return inner_->requeue_abandoned_trials(study_id, me, stale, max_retries);
  }
  std::vector<TrialRecord> trial_records(int study_id) override { return inner_->trial_records(study_id); }
  std::optional<TrialRecord> trial_record(int study_id, int number) override {
    return inner_->trial_record(study_id, number);
  }
  std::optional<std::string> load_checkpoint(int study_id, int number) override {
    return inner_->load_checkpoint(study_id, number);
  }
  bool save_best_weights(int study_id, int number, const std::string& model) override {
    return inner_->save_best_weights(study_id, number, model);
  }
  std::optional<BestWeights> best_weights(int study_id) override { return inner_->best_weights(study_id); }
  void import_study(const StudyDump& dump) override { inner_->import_study(dump); }

 private:
  std::unique_ptr<Storage> inner_;
};

// A study on the fake backend stored in a temporary SQLite file, and what that file holds.
class StudyFixture : public ::testing::Test {
 protected:
  StudyOptions options() const {
    StudyOptions options;
    options.storage_path = folder_.file("study.db");
    return options;
  }
  std::vector<TrialRecord> records() {
    auto storage = open_sqlite_storage(folder_.file("study.db"));
    return storage->trial_records(storage->find_study("fake")->id);
  }
  TempFolder folder_;
};

}  // namespace mlptune::tune::testing
