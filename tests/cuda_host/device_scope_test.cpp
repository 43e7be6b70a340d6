// BasicDeviceGuard and OnDevice over a fake device API: which device is current when an owned
// object is made and destroyed, that the caller's device is current again after either (also when
// construction throws), that no switch happens when none is needed, and that a teardown whose
// device cannot be made current still destroys what it owns and says so.
#include "cuda/device_scope.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "mlptune/error.hpp"

namespace mlptune::cuda {
namespace {

// The device state of one thread, and what happened to it.
struct Devices {
  int current = 0;
  int switches = 0;
  bool refuse = false;  // make_current throws (a device that cannot be used)
  std::vector<std::string> events;
};

class FakeDevices {
 public:
  explicit FakeDevices(Devices* devices = nullptr) : devices_(devices) {}
  int current() const { return devices_->current; }
  void make_current(int ordinal) const {
    if (devices_->refuse) throw DeviceError("device " + std::to_string(ordinal) + " is unavailable");
    devices_->current = ordinal;
    ++devices_->switches;
  }
  void restore(int ordinal) const noexcept {
    devices_->current = ordinal;
    ++devices_->switches;
  }
  void log(const char* message) const noexcept { devices_->events.push_back(std::string("log: ") + message); }

 private:
  Devices* devices_;
};

using Guard = BasicDeviceGuard<FakeDevices>;

// Records the device current at its construction and destruction.
struct Owned {
  Owned(Devices& devices, bool fail) : devices(devices) {
    devices.events.push_back("made on " + std::to_string(devices.current));
    if (fail) throw DeviceError("out of memory");
  }
  ~Owned() { devices.events.push_back("destroyed on " + std::to_string(devices.current)); }
  Devices& devices;
};

TEST(DeviceGuard, SwitchesForItsScopeAndBack) {
  Devices devices;
  devices.current = 2;
  {
    Guard guard(5, FakeDevices(&devices));
    EXPECT_EQ(devices.current, 5);
  }
  EXPECT_EQ(devices.current, 2);
  EXPECT_EQ(devices.switches, 2);
}

TEST(DeviceGuard, DoesNotSwitchWhenTheDeviceIsCurrent) {
  Devices devices;
  devices.current = 3;
  {
    Guard guard(3, FakeDevices(&devices));
    EXPECT_EQ(devices.current, 3);
  }
  EXPECT_EQ(devices.switches, 0);
}

TEST(DeviceGuard, RestoresWhenTheScopeThrows) {
  Devices devices;
  devices.current = 1;
  EXPECT_THROW(
      {
        Guard guard(4, FakeDevices(&devices));
        throw std::runtime_error("a failing call");
      },
      std::runtime_error);
  EXPECT_EQ(devices.current, 1);
}

TEST(DeviceGuard, ADeviceThatCannotBeMadeCurrentThrowsAndChangesNothing) {
  Devices devices;
  devices.current = 1;
  devices.refuse = true;
  EXPECT_THROW(Guard(4, FakeDevices(&devices)), DeviceError);
  EXPECT_EQ(devices.current, 1);
  EXPECT_EQ(devices.switches, 0);
}

TEST(OnDevice, MakesAndDestroysOnItsDeviceAndLeavesTheCallersCurrent) {
  Devices devices;
  devices.current = 0;
  {
    OnDevice<FakeDevices, Owned> owned(7, FakeDevices(&devices), devices, false);
    EXPECT_EQ(devices.current, 0);  // between construction and destruction: the caller's device
    EXPECT_EQ(owned.ordinal(), 7);
    devices.current = 3;  // the caller moves to another device meanwhile
  }
  EXPECT_EQ(devices.events, (std::vector<std::string>{"made on 7", "destroyed on 7"}));
  EXPECT_EQ(devices.current, 3);
}

TEST(OnDevice, AFailedConstructionLeavesTheCallersDeviceCurrent) {
  Devices devices;
  devices.current = 1;
  using Failing = OnDevice<FakeDevices, Owned>;
  EXPECT_THROW(Failing(6, FakeDevices(&devices), devices, true), DeviceError);
  EXPECT_EQ(devices.events, (std::vector<std::string>{"made on 6"}));
  EXPECT_EQ(devices.current, 1);
}

// Two objects on two devices, made and destroyed from a third: each is made and destroyed on its
// own device.
TEST(OnDevice, EachObjectOnItsOwnDevice) {
  Devices devices;
  devices.current = 0;
  {
    OnDevice<FakeDevices, Owned> first(1, FakeDevices(&devices), devices, false);
    OnDevice<FakeDevices, Owned> second(2, FakeDevices(&devices), devices, false);
    EXPECT_EQ(devices.current, 0);
  }
  EXPECT_EQ(devices.events, (std::vector<std::string>{"made on 1", "made on 2", "destroyed on 2", "destroyed on 1"}));
  EXPECT_EQ(devices.current, 0);
}

TEST(OnDevice, ATeardownThatCannotReachItsDeviceStillDestroysAndSaysSo) {
  Devices devices;
  devices.current = 0;
  {
    OnDevice<FakeDevices, Owned> owned(4, FakeDevices(&devices), devices, false);
    devices.refuse = true;
  }
  ASSERT_EQ(devices.events.size(), 3u);
  EXPECT_EQ(devices.events[0], "made on 4");
  EXPECT_EQ(devices.events[1], "log: device 4 is unavailable");
  EXPECT_EQ(devices.events[2], "destroyed on 0");
  EXPECT_EQ(devices.current, 0);
}

}  // namespace
}  // namespace mlptune::cuda
