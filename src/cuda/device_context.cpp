// The per-device context of the CUDA backend: memory pool, shared datasets, slots.
#include "cuda/device_context.hpp"

#include <algorithm>
#include <new>

#include "cuda/cuda_check.hpp"

namespace mlptune::cuda {
namespace {

// cuBLAS scratch per slot. The products here are small (K ≤ a few thousand); 4 MiB covers cuBLAS's
// split-K choices for them, and 64 slots then hold 256 MiB, not the 2 GiB that the 32 MiB
// recommended for large Hopper GEMMs would take.
constexpr std::size_t kCublasWorkspaceBytes = std::size_t(4) << 20;
// A slot's first learning-rate table: epochs of up to 4096 steps (MNIST in batches of 16 takes
// 3750) never grow it.
constexpr std::size_t kInitialLearningRates = 4096;

}  // namespace

TrialSlot::TrialSlot(const MemoryPool& memory)
    : cublas_workspace_(kCublasWorkspaceBytes, memory, stream_.get()),
      cublas_(stream_.get(), cublas_workspace_.get(), cublas_workspace_.bytes()),
      staging_(sizeof(HostStaging)),
      learning_rates_(kInitialLearningRates * sizeof(double)) {
  new (staging_.as<HostStaging>()) HostStaging{};  // the page-locked block holds one HostStaging
  stream_.synchronize();                           // the workspace is allocated before cuBLAS uses it
}

double* TrialSlot::learning_rates(std::size_t count, CaptureLock& lock) {
  const std::size_t bytes = count * sizeof(double);
  if (learning_rates_.bytes() < bytes) {
    const std::size_t grown = std::max(bytes, 2 * learning_rates_.bytes());  // doubling: few regrowths
    auto exclusive = lock.synchronising();
    learning_rates_ = PinnedBuffer();  // free first: the two need not fit at once
    learning_rates_ = PinnedBuffer(grown);
  }
  return learning_rates_.as<double>();
}

DeviceContext::DeviceContext(int ordinal) : ordinal_(ordinal), memory_(ordinal) {}

SlotPool<TrialSlot>::Lease DeviceContext::acquire_slot() {
  return slots_.acquire([this] {
    DeviceGuard device(ordinal_);
    auto exclusive = capture_lock().synchronising();
    return std::make_unique<TrialSlot>(memory_);
  });
}

std::shared_ptr<const DeviceSplits> DeviceContext::resident(const std::shared_ptr<const DataSplits>& data) {
  std::lock_guard lock(cache_mutex_);
  std::erase_if(cache_, [](const CachedSplits& entry) { return entry.host.expired(); });
  for (const CachedSplits& entry : cache_)
    if (entry.host.lock() == data) return entry.device;
  const cudaStream_t stream = upload_stream_.get();
  auto splits = std::make_shared<DeviceSplits>();
  splits->train = DeviceDataset(data->train, memory_, stream);
  splits->validation = DeviceDataset(data->validation, memory_, stream);
  splits->test = DeviceDataset(data->test, memory_, stream);
  cache_.push_back(CachedSplits{data, splits});
  return splits;
}

void DeviceContext::release_unused_memory() {
  auto exclusive = capture_lock().synchronising();
  memory_.trim();
}

std::shared_ptr<DeviceContext> make_device_context(int ordinal) {
  auto owner = std::make_shared<OnDevice<RuntimeDevices, DeviceContext>>(ordinal, RuntimeDevices{}, ordinal);
  return std::shared_ptr<DeviceContext>(owner, &owner->get());  // shares owner's lifetime
}

}  // namespace mlptune::cuda
