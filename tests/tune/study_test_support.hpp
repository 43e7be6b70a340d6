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

namespace mlptune::tune::testing {

class TempFolder {
 public:
  TempFolder() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("mlptune-tune-") + test->test_suite_name() + "-" + test->name() + "-" +
                       std::to_string(::getpid());
    for (char& c : name)
      if (c == '/') c = '_';
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;

  std::filesystem::path file(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

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
  FakeTrainer(const TrialSpec& spec, int sleep_ms) : spec_(spec), sleep_ms_(sleep_ms) {
    state_.model = spec.model;
  }

  EpochReport train_epoch() override {
    if (finished_) throw std::logic_error("train_epoch after the end");
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    ++state_.epoch;
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
  void load_state(const TrialState& state) override { state_ = state; }
  void extend_epochs(int epochs) override {
    spec_.train.epochs = epochs;
    finished_ = state_.epoch >= epochs;
  }
  const TrialSpec& spec() const override { return spec_; }

 private:
  TrialSpec spec_;
  TrialState state_;
  int sleep_ms_ = 0;
  bool finished_ = false;
};

class FakeBackend final : public Backend {
 public:
  explicit FakeBackend(int sleep_ms_per_epoch = 2, int concurrency = 3)
      : sleep_ms_(sleep_ms_per_epoch), concurrency_(concurrency) {}
  std::string name() const override { return "fake"; }
  std::unique_ptr<Trainer> make_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits>) override {
    ++trainers_made;
    return std::make_unique<FakeTrainer>(spec, sleep_ms_);
  }
  int recommended_concurrency() const override { return concurrency_; }

  std::atomic<int> trainers_made{0};

 private:
  int sleep_ms_;
  int concurrency_;
};

}  // namespace mlptune::tune::testing
