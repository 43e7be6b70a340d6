// The multi-device backend: trainers spread over devices by live load, places given back when a
// trainer ends or fails to start, concurrency summed.
#include "engine/multi_device_backend.hpp"

#include <gtest/gtest.h>

#include "mlptune/error.hpp"

namespace mlptune {
namespace {

// A device that counts the trainers it made and can be told to fail.
class FakeDevice final : public Backend {
 public:
  explicit FakeDevice(int ordinal) : ordinal_(ordinal) {}

  class FakeTrainer final : public Trainer {
   public:
    FakeTrainer(int ordinal, const TrialSpec& spec) : ordinal_(ordinal), spec_(spec) {}
    EpochReport train_epoch() override { return {}; }
    Metrics evaluate(const Dataset&) override { return {}; }
    std::vector<float> predict(const Dataset&) override { return {float(ordinal_)}; }
    TrialState state() const override { return {}; }
    void load_state(const TrialState&) override {}
    void extend_epochs(int) override {}
    const TrialSpec& spec() const override { return spec_; }

   private:
    int ordinal_;
    TrialSpec spec_;
  };

  std::string name() const override { return "fake:" + std::to_string(ordinal_); }
  BackendKind kind() const override { return BackendKind::cuda; }
  std::unique_ptr<Trainer> make_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits>) override {
    if (out_of_memory) throw DeviceError("out of memory on fake:" + std::to_string(ordinal_));
    return std::make_unique<FakeTrainer>(ordinal_, spec);
  }
  int recommended_concurrency() const override { return 4; }

  bool out_of_memory = false;

 private:
  int ordinal_;
};

// Which device a trainer runs on: the fake trainer predicts its ordinal.
int device_of(Trainer& trainer) {
  return int(trainer.predict(Dataset{}).front());
}

struct ThreeDevices {
  ThreeDevices() {
    std::vector<std::unique_ptr<Backend>> list;
    for (int i = 0; i < 3; ++i) {
      auto device = std::make_unique<FakeDevice>(i);
      devices.push_back(device.get());
      list.push_back(std::move(device));
    }
    backend = make_multi_device_backend(std::move(list));
  }
  std::vector<FakeDevice*> devices;
  std::unique_ptr<Backend> backend;
};

TEST(MultiDeviceBackend, SpreadsTrainersEvenlyAndRefillsTheFreedDevice) {
  ThreeDevices setup;
  std::vector<std::unique_ptr<Trainer>> trainers;
  for (int i = 0; i < 6; ++i) trainers.push_back(setup.backend->make_trainer({}, nullptr));
  std::vector<int> per_device(3, 0);
  for (auto& trainer : trainers) ++per_device[std::size_t(device_of(*trainer))];
  EXPECT_EQ(per_device, (std::vector<int>{2, 2, 2}));

  // Free one trainer on device 1: the next goes there.
  for (auto it = trainers.begin(); it != trainers.end(); ++it) {
    if (device_of(**it) == 1) {
      trainers.erase(it);
      break;
    }
  }
  EXPECT_EQ(device_of(*setup.backend->make_trainer({}, nullptr)), 1);
}

TEST(MultiDeviceBackend, AFailedStartGivesItsPlaceBack) {
  ThreeDevices setup;
  setup.devices[0]->out_of_memory = true;
  EXPECT_THROW(setup.backend->make_trainer({}, nullptr), DeviceError);
  setup.devices[0]->out_of_memory = false;
  // Device 0 holds no trainer, so it is still the least loaded.
  auto trainer = setup.backend->make_trainer({}, nullptr);
  EXPECT_EQ(device_of(*trainer), 0);
}

TEST(MultiDeviceBackend, NamesEveryDeviceAndSumsConcurrency) {
  ThreeDevices setup;
  EXPECT_EQ(setup.backend->name(), "fake:0 + fake:1 + fake:2");
  EXPECT_EQ(setup.backend->recommended_concurrency(), 12);
}

TEST(MultiDeviceBackend, OneDeviceIsItself) {
  std::vector<std::unique_ptr<Backend>> list;
  list.push_back(std::make_unique<FakeDevice>(7));
  EXPECT_EQ(make_multi_device_backend(std::move(list))->name(), "fake:7");
  EXPECT_THROW(make_multi_device_backend({}), ConfigError);
}

}  // namespace
}  // namespace mlptune
