// A backend over several devices that places each trainer on the least-loaded one.
#include "engine/multi_device_backend.hpp"

#include <algorithm>
#include <mutex>

#include "mlptune/error.hpp"

namespace mlptune {
namespace {

// Live trainers per device, shared by the backend and its trainers.
struct DeviceLoad {
  std::mutex mutex;
  std::vector<int> live;

  std::size_t acquire_least_loaded() {
    std::lock_guard lock(mutex);
    const auto least = std::min_element(live.begin(), live.end());
    ++*least;
    return std::size_t(least - live.begin());
  }
  void release(std::size_t device) {
    std::lock_guard lock(mutex);
    --live[device];
  }
};

// Forwards to the device's trainer and gives its place back when destroyed.
class PlacedTrainer final : public Trainer {
 public:
  PlacedTrainer(std::unique_ptr<Trainer> trainer, std::shared_ptr<DeviceLoad> load, std::size_t device)
      : trainer_(std::move(trainer)), load_(std::move(load)), device_(device) {}
  ~PlacedTrainer() override { load_->release(device_); }
  PlacedTrainer(const PlacedTrainer&) = delete;
  PlacedTrainer& operator=(const PlacedTrainer&) = delete;

  EpochReport train_epoch() override { return trainer_->train_epoch(); }
  Metrics evaluate(const Dataset& split) override { return trainer_->evaluate(split); }
  std::vector<float> predict(const Dataset& data) override { return trainer_->predict(data); }
  TrialState state() const override { return trainer_->state(); }
  void load_state(const TrialState& state) override { trainer_->load_state(state); }
  void extend_epochs(int epochs) override { trainer_->extend_epochs(epochs); }
  const TrialSpec& spec() const override { return trainer_->spec(); }

 private:
  std::unique_ptr<Trainer> trainer_;
  std::shared_ptr<DeviceLoad> load_;
  std::size_t device_;
};

class MultiDeviceBackend final : public Backend {
 public:
  explicit MultiDeviceBackend(std::vector<std::unique_ptr<Backend>> devices)
      : devices_(std::move(devices)), load_(std::make_shared<DeviceLoad>()) {
    load_->live.assign(devices_.size(), 0);
  }

  BackendKind kind() const override { return devices_.front()->kind(); }
  std::string name() const override {
    std::string text;
    for (const auto& device : devices_) {
      if (!text.empty()) text += " + ";
      text += device->name();
    }
    return text;
  }

  std::unique_ptr<Trainer> make_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> data) override {
    const std::size_t device = load_->acquire_least_loaded();
    try {
      return std::make_unique<PlacedTrainer>(devices_[device]->make_trainer(spec, std::move(data)), load_, device);
    } catch (...) {
      load_->release(device);
      throw;
    }
  }

  int recommended_concurrency() const override {
    int total = 0;
    for (const auto& device : devices_) total += device->recommended_concurrency();
    return total;
  }

 private:
  std::vector<std::unique_ptr<Backend>> devices_;
  std::shared_ptr<DeviceLoad> load_;
};

}  // namespace

std::unique_ptr<Backend> make_multi_device_backend(std::vector<std::unique_ptr<Backend>> devices) {
  if (devices.empty()) throw ConfigError("a multi-device backend needs at least one device");
  if (devices.size() == 1) return std::move(devices.front());
  return std::make_unique<MultiDeviceBackend>(std::move(devices));
}

}  // namespace mlptune
