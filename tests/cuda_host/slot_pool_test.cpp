// SlotPool: a slot is made only when none is free, a slot given back is lent again, the counts
// add up, a failing factory changes nothing, and under threads no slot is lent twice at once.
#include "cuda/slot_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace mlptune::cuda {
namespace {

struct Slot {
  int serial = 0;
  std::atomic<int> users{0};  // trainers using it at once: must never exceed 1
};

// A factory that numbers the slots it makes.
struct Factory {
  int made = 0;
  std::unique_ptr<Slot> operator()() {
    auto slot = std::make_unique<Slot>();
    slot->serial = ++made;
    return slot;
  }
};

TEST(SlotPool, MakesASlotOnlyWhenNoneIsFree) {
  SlotPool<Slot> pool;
  Factory factory;
  EXPECT_EQ(pool.made(), 0u);
  {
    auto first = pool.acquire(std::ref(factory));
    auto second = pool.acquire(std::ref(factory));
    EXPECT_EQ(first->serial, 1);
    EXPECT_EQ(second->serial, 2);
    EXPECT_EQ(pool.made(), 2u);
    EXPECT_EQ(pool.lent(), 2u);
    EXPECT_EQ(pool.free(), 0u);
  }
  EXPECT_EQ(pool.lent(), 0u);
  EXPECT_EQ(pool.free(), 2u);
  // Given back last, lent first; no new slot while one is free.
  auto again = pool.acquire(std::ref(factory));
  EXPECT_EQ(again->serial, 1);
  auto other = pool.acquire(std::ref(factory));
  EXPECT_EQ(other->serial, 2);
  EXPECT_EQ(factory.made, 2);
  auto third = pool.acquire(std::ref(factory));
  EXPECT_EQ(third->serial, 3);
  EXPECT_EQ(pool.made(), 3u);
  EXPECT_EQ(pool.lent(), 3u);
}

TEST(SlotPool, TheSameSlotComesBackToTheNextTrainer) {
  SlotPool<Slot> pool;
  Factory factory;
  const Slot* address = nullptr;
  for (int trial = 0; trial < 5; ++trial) {
    auto lease = pool.acquire(std::ref(factory));
    if (address == nullptr) address = &*lease;
    EXPECT_EQ(&*lease, address) << "trial " << trial;
  }
  EXPECT_EQ(factory.made, 1);
  EXPECT_EQ(pool.made(), 1u);
}

TEST(SlotPool, AFailingFactoryLeavesThePoolAsItWas) {
  SlotPool<Slot> pool;
  Factory factory;
  auto held = pool.acquire(std::ref(factory));
  EXPECT_THROW(pool.acquire([]() -> std::unique_ptr<Slot> { throw std::runtime_error("no memory"); }),
               std::runtime_error);
  EXPECT_EQ(pool.made(), 1u);
  EXPECT_EQ(pool.lent(), 1u);
  EXPECT_EQ(pool.free(), 0u);
}

TEST(SlotPool, MovedLeasesGiveTheirSlotBackOnce) {
  SlotPool<Slot> pool;
  Factory factory;
  auto first = pool.acquire(std::ref(factory));
  auto second = pool.acquire(std::ref(factory));
  SlotPool<Slot>::Lease moved(std::move(first));
  EXPECT_FALSE(first);
  EXPECT_TRUE(moved);
  EXPECT_EQ(pool.lent(), 2u);
  moved = std::move(second);  // the slot `moved` held goes back
  EXPECT_EQ(pool.lent(), 1u);
  EXPECT_EQ(pool.free(), 1u);
  EXPECT_EQ(moved->serial, 2);
  moved = SlotPool<Slot>::Lease();
  EXPECT_EQ(pool.lent(), 0u);
  EXPECT_EQ(pool.free(), 2u);
}

// 8 threads take and give back slots 2000 times each: no slot is ever lent to two at once, no more
// slots are made than threads, and every one is free at the end.
TEST(SlotPool, ThreadsNeverShareASlot) {
  SlotPool<Slot> pool;
  std::atomic<int> made{0};
  std::atomic<int> shared{0};
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto lease = pool.acquire([&] {
          ++made;
          return std::make_unique<Slot>();
        });
        if (lease->users.fetch_add(1) != 0) ++shared;
        std::this_thread::yield();
        lease->users.fetch_sub(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(shared.load(), 0);
  EXPECT_LE(made.load(), kThreads);
  EXPECT_GE(made.load(), 1);
  EXPECT_EQ(pool.made(), std::size_t(made.load()));
  EXPECT_EQ(pool.lent(), 0u);
  EXPECT_EQ(pool.free(), pool.made());
}

}  // namespace
}  // namespace mlptune::cuda
