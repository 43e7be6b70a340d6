// Which device is current while CUDA resources are made, used and destroyed: a guard for a scope,
// and a holder that keeps its object's construction and destruction on the object's device. Both
// are templates over a device API (the CUDA runtime in device_resources.hpp; a fake in the CPU
// tests), with no CUDA headers here.
//
// The API is a copyable value with (static or const) members
//   int current();                          // the calling thread's device; throws DeviceError
//   void make_current(int ordinal);         // throws DeviceError
//   void restore(int ordinal) noexcept;     // make_current for destructors: logs a failure
//   void log(const char* message) noexcept; // a failure a destructor cannot throw
#pragma once

#include <exception>
#include <optional>
#include <utility>

namespace mlptune::cuda {

// Makes `ordinal` the calling thread's current device for the guard's lifetime and gives the caller
// its own device back at the end (it only switches when they differ).
template <class Api>
class BasicDeviceGuard {
 public:
  explicit BasicDeviceGuard(int ordinal, Api api = Api{}) : api_(std::move(api)), previous_(api_.current()) {
    if (previous_ != ordinal) api_.make_current(ordinal);
    switched_ = previous_ != ordinal;
  }
  ~BasicDeviceGuard() {
    if (switched_) api_.restore(previous_);
  }
  BasicDeviceGuard(const BasicDeviceGuard&) = delete;
  BasicDeviceGuard& operator=(const BasicDeviceGuard&) = delete;

 private:
  Api api_;
  int previous_;
  bool switched_ = false;
};

// An `Owned` made and destroyed with its device current, the caller's device current again after
// either (also when Owned's constructor throws). In between, the caller's device is untouched: each
// use opens its own guard. The order of the members is the point: the guard is the first member,
// so it is in force before `owned_` is constructed and is destroyed after `owned_` is.
template <class Api, class Owned>
class OnDevice {
 public:
  template <class... Args>
  explicit OnDevice(int ordinal, Api api, Args&&... args)
      : ordinal_(ordinal),
        api_(std::move(api)),
        guard_(std::in_place, ordinal, api_),
        owned_(std::forward<Args>(args)...) {
    guard_.reset();  // construction done: back to the caller's device
  }
  ~OnDevice() {
    try {
      guard_.emplace(ordinal_, api_);  // `owned_` is destroyed after this body, then the guard
    } catch (const std::exception& error) {
      // The device cannot be made current: say so; `owned_` is still destroyed (on whatever device
      // is current) rather than leaked.
      api_.log(error.what());
    }
  }
  OnDevice(const OnDevice&) = delete;
  OnDevice& operator=(const OnDevice&) = delete;

  int ordinal() const { return ordinal_; }
  Owned& get() { return owned_; }
  const Owned& get() const { return owned_; }
  Owned* operator->() { return &owned_; }
  const Owned* operator->() const { return &owned_; }

 private:
  int ordinal_;
  Api api_;
  std::optional<BasicDeviceGuard<Api>> guard_;  // before owned_: see above
  Owned owned_;
};

}  // namespace mlptune::cuda
