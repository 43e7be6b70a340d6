// A pool of reusable per-trial resources: a trainer takes a slot for its life and gives it back
// when it is destroyed; the next trainer gets the same slot again instead of making a new one.
// No CUDA here: the CUDA backend pools its TrialSlots (stream, cuBLAS handle, pinned buffers) in
// it, the CPU tests pool plain objects.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace mlptune::cuda {

// Thread-safe. Slots are made on demand by the factory given to acquire, and destroyed only with
// the pool: the pool holds as many as were ever in use at once. The pool must outlive its leases.
template <class Slot>
class SlotPool {
 public:
  // One slot, lent until the lease is destroyed (or moved from and then destroyed).
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)), slot_(std::move(other.slot_)) {}
    Lease& operator=(Lease&& other) noexcept {
      if (this != &other) {
        give_back();
        pool_ = std::exchange(other.pool_, nullptr);
        slot_ = std::move(other.slot_);
      }
      return *this;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { give_back(); }

    explicit operator bool() const { return slot_ != nullptr; }
    Slot& operator*() const { return *slot_; }
    Slot* operator->() const { return slot_.get(); }

   private:
    friend class SlotPool;
    Lease(SlotPool* pool, std::unique_ptr<Slot> slot) : pool_(pool), slot_(std::move(slot)) {}
    void give_back() noexcept {
      if (pool_ != nullptr && slot_ != nullptr) pool_->give_back(std::move(slot_));
      pool_ = nullptr;
    }

    SlotPool* pool_ = nullptr;
    std::unique_ptr<Slot> slot_;
  };

  SlotPool() = default;
  SlotPool(const SlotPool&) = delete;
  SlotPool& operator=(const SlotPool&) = delete;

  // The slot given back last (its memory is the warmest), or, when none is free, a new one from
  // make() -> std::unique_ptr<Slot>. make runs outside the pool's lock (it may be slow, and may take
  // other locks); when it throws, the pool is as it was.
  template <class Make>
  Lease acquire(Make&& make) {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        std::unique_ptr<Slot> slot = std::move(free_.back());
        free_.pop_back();
        ++lent_;
        return Lease(this, std::move(slot));
      }
    }
    std::unique_ptr<Slot> slot = make();
    std::lock_guard lock(mutex_);
    free_.reserve(made_ + 1);  // room for every slot made, so give_back never allocates
    ++made_;
    ++lent_;
    return Lease(this, std::move(slot));
  }

  // Slots made so far, lent now, and free now (made = lent + free).
  std::size_t made() const {
    std::lock_guard lock(mutex_);
    return made_;
  }
  std::size_t lent() const {
    std::lock_guard lock(mutex_);
    return lent_;
  }
  std::size_t free() const {
    std::lock_guard lock(mutex_);
    return free_.size();
  }

 private:
  void give_back(std::unique_ptr<Slot> slot) noexcept {
    std::lock_guard lock(mutex_);
    // Cannot throw: the vector's capacity covers every slot ever made (reserved in acquire).
    free_.push_back(std::move(slot));
    --lent_;
  }

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Slot>> free_;
  std::size_t made_ = 0;
  std::size_t lent_ = 0;
};

}  // namespace mlptune::cuda
