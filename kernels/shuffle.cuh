// Launchers of the epoch permutation on the device (equal to ref::epoch_permutation).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace mlptune::kernels {

// Device scratch bytes epoch_permutation needs for `rows` rows.
std::size_t shuffle_workspace_bytes(std::size_t rows);

// order (rows) = indices 0..rows-1 sorted by rng::hash(seed, kShuffleStream + epoch, index), ties
// by index (a stable radix sort of (key, index) pairs). workspace: shuffle_workspace_bytes(rows)
// bytes, 256-byte aligned. rows must fit in 32 bits (throws ConfigError otherwise).
void epoch_permutation(std::uint64_t seed, int epoch, std::size_t rows, std::uint32_t* order, void* workspace,
                       std::size_t workspace_bytes, cudaStream_t stream);

// order (rows) = 0, 1, ..., rows-1 (shuffle off).
void identity_permutation(std::uint32_t* order, std::size_t rows, cudaStream_t stream);

}  // namespace mlptune::kernels
