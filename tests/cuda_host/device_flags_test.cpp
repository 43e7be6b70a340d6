// The blocking-sync decision over a fake CUDA runtime: the flags are always read back, set on a
// context that was active under others, and a driver that keeps its schedule is reported.
#include "cuda/device_flags.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mlptune::cuda {
namespace {

// A device whose primary context may be active already (under a spinning schedule) and whose
// driver may refuse to change an active context's flags.
struct FakeRuntime {
  bool active = false;
  bool blocking_flags = false;
  bool driver_changes_active_flags = true;
  std::vector<std::string> calls;

  void initialize() {
    calls.push_back("init");
    if (!active) blocking_flags = true;  // cudaInitDevice sets the flags of a context it makes
    active = true;
  }
  bool blocking() {
    calls.push_back("get");
    return blocking_flags;
  }
  void set_flags() {
    calls.push_back("set");
    if (driver_changes_active_flags) blocking_flags = true;
  }
};

TEST(BlockingSync, AFreshContextGetsItFromItsInitialisationAndIsVerified) {
  FakeRuntime runtime;
  EXPECT_EQ(make_blocking(runtime), BlockingSync::set);
  EXPECT_EQ(runtime.calls, (std::vector<std::string>{"init", "get"}));
}

// The context was made earlier with the default (spinning) schedule: cudaInitDevice leaves it, the
// flags read back say so, and they are set on the active context.
TEST(BlockingSync, AnActiveContextGetsItSetAndVerifiedAgain) {
  FakeRuntime runtime;
  runtime.active = true;
  EXPECT_EQ(make_blocking(runtime), BlockingSync::set);
  EXPECT_EQ(runtime.calls, (std::vector<std::string>{"init", "get", "set", "get"}));
  EXPECT_TRUE(runtime.blocking_flags);
}

TEST(BlockingSync, ADriverThatKeepsTheActiveScheduleIsReported) {
  FakeRuntime runtime;
  runtime.active = true;
  runtime.driver_changes_active_flags = false;
  EXPECT_EQ(make_blocking(runtime), BlockingSync::refused);
  EXPECT_FALSE(runtime.blocking_flags);
}

}  // namespace
}  // namespace mlptune::cuda
