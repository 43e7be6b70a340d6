// The capture lock is one for the whole process: a synchronisation anywhere (any device, any
// context) waits for every capture in progress, and a capture waits for it.
#include "cuda/capture_lock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

namespace mlptune::cuda {
namespace {

TEST(CaptureLock, EveryThreadGetsTheSameLock) {
  CaptureLock* elsewhere = nullptr;
  std::thread([&] { elsewhere = &process_capture_lock(); }).join();
  EXPECT_EQ(elsewhere, &process_capture_lock());
}

// A capture on one thread (a trainer on one device) holds off a synchronisation on another (a
// trainer on another device making its slot) until it ends; captures do not hold off each other.
TEST(CaptureLock, ASynchronisationWaitsForACaptureOnAnotherThread) {
  auto capturing = process_capture_lock().capturing();
  std::promise<void> second_capture_taken;
  std::thread([&] {
    auto also_capturing = process_capture_lock().capturing();
    second_capture_taken.set_value();
  }).join();
  second_capture_taken.get_future().get();

  std::promise<void> synchronising_taken;
  std::future<void> taken = synchronising_taken.get_future();
  std::thread other([&] {
    auto exclusive = process_capture_lock().synchronising();
    synchronising_taken.set_value();
  });
  // Still held off while the capture runs: the wait only confirms that nothing happened (a wrong
  // lock would let it through at once).
  EXPECT_EQ(taken.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  capturing.unlock();
  taken.get();  // goes through once the capture ends
  other.join();
}

}  // namespace
}  // namespace mlptune::cuda
