// The epoch permutation: hash keys from the counter RNG, then CUB's stable radix sort by key.
// CUB rather than thrust::sort_by_key: the same stable LSD radix sort thrust uses for 64-bit keys,
// but with caller-owned scratch, so it allocates nothing and stays ordered on the trial's stream.
#include <climits>
#include <cub/device/device_radix_sort.cuh>
#include <string>

#include "common/counter_rng.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/launch_config.hpp"
#include "mlptune/error.hpp"
#include "shuffle.cuh"

namespace mlptune::kernels {
namespace {

constexpr std::size_t kAlignment = 256;

std::size_t align_up(std::size_t bytes) {
  return (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

// The scratch layout: keys in, keys out, indices in, then CUB's temporary storage.
struct ShuffleWorkspace {
  std::size_t keys_bytes = 0;
  std::size_t indices_bytes = 0;
  std::size_t sort_bytes = 0;
  std::size_t total() const { return 2 * keys_bytes + indices_bytes + sort_bytes; }
};

ShuffleWorkspace layout(std::size_t rows) {
  ShuffleWorkspace w;
  w.keys_bytes = align_up(rows * sizeof(std::uint64_t));
  w.indices_bytes = align_up(rows * sizeof(std::uint32_t));
  std::size_t sort_bytes = 0;
  MLPTUNE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, sort_bytes, static_cast<const std::uint64_t*>(nullptr), static_cast<std::uint64_t*>(nullptr),
      static_cast<const std::uint32_t*>(nullptr), static_cast<std::uint32_t*>(nullptr), int(rows)));
  w.sort_bytes = align_up(sort_bytes);
  return w;
}

void check_rows(std::size_t rows) {
  if (rows > std::size_t(INT_MAX))
    throw ConfigError("the device shuffle handles at most " + std::to_string(INT_MAX) + " rows, got " +
                      std::to_string(rows) + "; use a smaller training split");
}

// keys (rows) = hash(seed, stream, index); indices (rows) = index.
static __global__ void shuffle_keys_kernel(std::uint64_t seed, std::uint64_t stream, std::size_t rows,
                                           std::uint64_t* __restrict__ keys, std::uint32_t* __restrict__ indices) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < rows;
       i += std::size_t(gridDim.x) * blockDim.x) {
    keys[i] = rng::hash(seed, stream, i);
    indices[i] = std::uint32_t(i);
  }
}

static __global__ void identity_kernel(std::uint32_t* __restrict__ order, std::size_t rows) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < rows;
       i += std::size_t(gridDim.x) * blockDim.x)
    order[i] = std::uint32_t(i);
}

}  // namespace

std::size_t shuffle_workspace_bytes(std::size_t rows) {
  check_rows(rows);
  return layout(rows).total();
}

void epoch_permutation(std::uint64_t seed, int epoch, std::size_t rows, std::uint32_t* order, void* workspace,
                       std::size_t workspace_bytes, cudaStream_t stream) {
  check_rows(rows);
  if (rows == 0) return;
  const ShuffleWorkspace w = layout(rows);
  if (workspace_bytes < w.total())
    throw ConfigError("epoch_permutation: workspace of " + std::to_string(workspace_bytes) + " bytes, needs " +
                      std::to_string(w.total()));
  auto* base = static_cast<unsigned char*>(workspace);
  auto* keys_in = reinterpret_cast<std::uint64_t*>(base);
  auto* keys_out = reinterpret_cast<std::uint64_t*>(base + w.keys_bytes);
  auto* indices_in = reinterpret_cast<std::uint32_t*>(base + 2 * w.keys_bytes);
  void* sort_storage = base + 2 * w.keys_bytes + w.indices_bytes;

  shuffle_keys_kernel<<<cuda::grid_stride_blocks(rows), cuda::kBlockSize, 0, stream>>>(
      seed, rng::kShuffleStream + std::uint64_t(epoch), rows, keys_in, indices_in);
  MLPTUNE_CUDA_CHECK_LAUNCH(shuffle_keys_kernel);
  std::size_t sort_bytes = w.sort_bytes;
  MLPTUNE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(sort_storage, sort_bytes, keys_in, keys_out, indices_in, order,
                                                     int(rows), 0, int(sizeof(std::uint64_t) * 8), stream));
}

void identity_permutation(std::uint32_t* order, std::size_t rows, cudaStream_t stream) {
  check_rows(rows);
  if (rows == 0) return;
  identity_kernel<<<cuda::grid_stride_blocks(rows), cuda::kBlockSize, 0, stream>>>(order, rows);
  MLPTUNE_CUDA_CHECK_LAUNCH(identity_kernel);
}

}  // namespace mlptune::kernels
