// Helpers of the GPU tests: the skip-or-fail device fixture, device arrays, poisoning, random
// inputs and the one comparison helper |gpu - ref| <= atol + rtol·|ref|.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/concurrency.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/device_resources.hpp"

namespace mlptune::test {

// Whether a CUDA device is visible (clears the error a missing driver leaves behind). The first
// CUDA call of a test program: CUDA_DEVICE_MAX_CONNECTIONS is set first, as the backend sets it.
inline bool cuda_device_available() {
  cuda::prepare_connections();
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return count > 0;
}

// MLPTUNE_REQUIRE_GPU=1 (scripts/gpu-check sets it): a missing device fails the GPU tests
// instead of skipping them, so a GPU run cannot pass by skipping everything.
inline bool gpu_required() {
  const char* value = std::getenv("MLPTUNE_REQUIRE_GPU");
  return value != nullptr && std::string(value) == "1";
}

// Base fixture of every GPU test: skips with "no CUDA device" (or fails when a device is
// required), initialises device 0 as the CUDA backend does (blocking sync) and gives the test a
// stream of its own.
class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_device_available()) {
      if (gpu_required()) FAIL() << "no CUDA device, but MLPTUNE_REQUIRE_GPU=1 requires one";
      GTEST_SKIP() << "no CUDA device";
    }
    cuda::initialize_device(0);  // as the program does: its schedule before the context is made
    MLPTUNE_CUDA_CHECK(cudaSetDevice(0));
    stream_.emplace();
  }
  cudaStream_t stream() const { return stream_->get(); }
  void synchronize() const { stream_->synchronize(); }

 private:
  std::optional<cuda::Stream> stream_;
};

// A typed device array for tests: made from host values or poisoned (every byte 0xFF: NaN for
// floats, -1 for integers), so an element a kernel fails to write fails the comparison.
template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(std::size_t count) : count_(count), buffer_(std::max<std::size_t>(count, 1) * sizeof(T)) {
    poison();
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) { upload(host); }

  T* get() const { return buffer_.as<T>(); }
  std::size_t size() const { return count_; }
  // Both wait for all device work before and after: the tests' kernels run on non-blocking
  // streams, which plain cudaMemset/cudaMemcpy do not order against.
  void poison() {
    MLPTUNE_CUDA_CHECK(cudaDeviceSynchronize());
    MLPTUNE_CUDA_CHECK(cudaMemset(buffer_.get(), 0xFF, buffer_.bytes()));
    MLPTUNE_CUDA_CHECK(cudaDeviceSynchronize());
  }
  void upload(const std::vector<T>& host) {
    MLPTUNE_CUDA_CHECK(cudaDeviceSynchronize());
    MLPTUNE_CUDA_CHECK(cudaMemcpy(buffer_.get(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
    MLPTUNE_CUDA_CHECK(cudaDeviceSynchronize());
  }
  // Waits for all device work first (the tests' streams are non-blocking).
  std::vector<T> download() const {
    MLPTUNE_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<T> host(count_);
    MLPTUNE_CUDA_CHECK(cudaMemcpy(host.data(), buffer_.get(), count_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  std::size_t count_;
  cuda::DeviceBuffer buffer_;
};

// Uniform values in [low, high) from a fixed seed.
inline std::vector<float> random_floats(std::size_t count, std::uint32_t seed, float low = -1.0f, float high = 1.0f) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<float> distribution(low, high);
  std::vector<float> values(count);
  for (float& value : values) value = distribution(engine);
  return values;
}

// Integer values in [low, high] as floats: products and sums stay exact in float (and in TF32's
// 11 significant bits), so a matrix product can be compared for equality.
inline std::vector<float> random_integers(std::size_t count, std::uint32_t seed, int low, int high) {
  std::mt19937 engine(seed);
  std::uniform_int_distribution<int> distribution(low, high);
  std::vector<float> values(count);
  for (float& value : values) value = float(distribution(engine));
  return values;
}

inline std::vector<std::int32_t> random_labels(std::size_t count, int classes, std::uint32_t seed) {
  std::mt19937 engine(seed);
  std::uniform_int_distribution<int> distribution(0, classes - 1);
  std::vector<std::int32_t> labels(count);
  for (auto& label : labels) label = distribution(engine);
  return labels;
}

// |gpu - ref| <= atol + rtol·|ref| for every element (NaN fails), and a non-zero gpu norm where
// the reference has one (an untouched buffer cannot pass). Reports the count and the worst element.
template <class T, class R>
::testing::AssertionResult all_close(const std::vector<T>& gpu, const std::vector<R>& ref, double atol, double rtol) {
  if (gpu.size() != ref.size())
    return ::testing::AssertionFailure() << "sizes differ: gpu " << gpu.size() << ", ref " << ref.size();
  std::size_t failures = 0;
  std::size_t worst = 0;
  double worst_excess = -1.0;
  double gpu_norm = 0.0;
  double ref_norm = 0.0;
  for (std::size_t i = 0; i < gpu.size(); ++i) {
    const double g = double(gpu[i]);
    const double r = double(ref[i]);
    gpu_norm += std::isfinite(g) ? g * g : 0.0;
    ref_norm += r * r;
    const double error = std::abs(g - r);
    const double bound = atol + rtol * std::abs(r);
    const bool ok = error <= bound || (g == r);  // g == r also accepts equal infinities
    if (!ok) {
      ++failures;
      const double excess = std::isnan(error) ? INFINITY : error - bound;
      if (excess > worst_excess) {
        worst_excess = excess;
        worst = i;
      }
    }
  }
  if (failures == 0 && (ref_norm == 0.0 || gpu_norm > 0.0)) return ::testing::AssertionSuccess();
  std::ostringstream message;
  message.precision(9);
  if (failures == 0) {
    message << "the gpu output is all zero where the reference is not";
  } else {
    message << failures << " of " << gpu.size() << " elements outside atol " << atol << " + rtol " << rtol
            << "·|ref|; worst at " << worst << ": gpu " << double(gpu[worst]) << ", ref " << double(ref[worst]);
  }
  return ::testing::AssertionFailure() << message.str();
}

}  // namespace mlptune::test
