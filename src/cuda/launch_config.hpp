// Grid sizes for the kernels' launchers: one place that decides how many blocks cover n items.
#pragma once

#include <algorithm>
#include <cstddef>

namespace mlptune::cuda {

inline constexpr int kBlockSize = 256;
// Grid-stride kernels need no more blocks than this to fill any current GPU (132 SMs x 16 blocks of
// 256 threads resident at most, with room to spare).
inline constexpr std::size_t kMaxGridStrideBlocks = 4096;

// Blocks of `block` threads covering `count` items with a grid-stride loop (at least 1).
inline unsigned int grid_stride_blocks(std::size_t count, int block = kBlockSize) {
  const std::size_t needed = (count + std::size_t(block) - 1) / std::size_t(block);
  return static_cast<unsigned int>(std::clamp<std::size_t>(needed, 1, kMaxGridStrideBlocks));
}

// Blocks covering `count` items exactly, `per_block` items per block (at least 1).
inline unsigned int exact_blocks(std::size_t count, std::size_t per_block) {
  return static_cast<unsigned int>(std::max<std::size_t>((count + per_block - 1) / per_block, 1));
}

}  // namespace mlptune::cuda
