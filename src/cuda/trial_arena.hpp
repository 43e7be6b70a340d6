// One trial's device arena: where each of its buffers lies in one allocation. Every buffer starts
// on a 256-byte boundary, and so does every layer's weight and bias inside the flat parameter and
// gradient arrays (their ParameterLayout is aligned to 64 floats), so cuBLAS gets aligned operands.
// Plain C++: the plan is checked on the host (tests/cuda_host).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cuda/device_trial.hpp"
#include "mlptune/model.hpp"
#include "nn/metric_sums.hpp"
#include "nn/parameter_layout.hpp"

namespace mlptune::cuda {

inline constexpr std::size_t kArenaAlignment = 256;
// The trial's ParameterLayout alignment, in floats: a tensor's start is 256-byte aligned.
inline constexpr std::size_t kParameterAlignment = kArenaAlignment / sizeof(float);

// Bits per row of a layer's ReLU mask (width values): cuBLASLt's leading dimension for it, a
// multiple of 128 and at least the width.
inline std::int64_t relu_mask_bits(int width) {
  return (std::int64_t(width) + 127) / 128 * 128;
}

// One reservation of a plan: its name, where it starts and how many bytes it holds (its padding
// to the next boundary not counted).
struct ArenaRegion {
  std::string name;
  std::size_t offset = 0;
  std::size_t bytes = 0;
};

// Sub-buffers of one device allocation, each 256-byte aligned, handed out in the order reserved.
// Without a base it only measures (every view it returns is empty); over the allocation's base
// the same sequence of reservations gives the views. It records every reservation.
class ArenaPlan {
 public:
  explicit ArenaPlan(unsigned char* base = nullptr) : base_(base) {}

  template <class T>
  std::span<T> reserve(std::string name, std::size_t count) {
    const std::size_t offset = bytes_;
    const std::size_t bytes = count * sizeof(T);
    regions_.push_back(ArenaRegion{std::move(name), offset, bytes});
    bytes_ += (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
    if (base_ == nullptr || count == 0) return {};
    return {reinterpret_cast<T*>(base_ + offset), count};
  }
  std::size_t bytes() const { return bytes_; }
  const std::vector<ArenaRegion>& regions() const { return regions_; }

 private:
  unsigned char* base_;
  std::size_t bytes_ = 0;
  std::vector<ArenaRegion> regions_;
};

// What sizes the arena, from the spec and the data.
struct ArenaShape {
  std::vector<LayerShape> layers;
  int input_width = 0;
  int output_width = 0;
  int optimizer_slots = 0;            // parameter-shaped optimizer arrays: 0, 1 or 2
  std::size_t rows_capacity = 0;      // rows of the forward buffers
  std::size_t train_batch = 0;        // rows of a full training batch
  std::size_t train_rows = 0;         // rows of the training split
  std::size_t steps_per_epoch = 0;    // entries of the learning-rate table
  std::size_t gradient_partials = 0;  // doubles of the gradient norm's first pass (0: no clipping)
  std::size_t shuffle_workspace_bytes = 0;
  bool relu_masks = false;                   // hidden layers keep ReLU masks (products with ReLU epilogues)
  std::size_t epilogue_workspace_bytes = 0;  // cuBLASLt's workspace for those products
};

// One layer's tensors in the arena. weight, bias and their gradients lie inside the flat
// parameters and gradients, where the trial's (aligned) ParameterLayout puts them.
struct LayerViews {
  std::span<float> weight;           // (out, in)
  std::span<float> bias;             // (out)
  std::span<float> weight_gradient;  // (out, in)
  std::span<float> bias_gradient;    // (out)
  float* pre = nullptr;              // (rows_capacity, out): pre-activations (logits for the last layer)
  float* out = nullptr;              // (rows_capacity, out): activations; null on the output layer
  void* relu_mask = nullptr;         // (train_batch rows of relu_mask_bits(out) bits): hidden, where relu_masks
};

// Where each buffer lives in the arena (lay_out_arena is the one function that knows it).
struct ArenaViews {
  std::span<float> parameters;  // (flat_size), in the aligned ParameterLayout, padding zero
  std::span<float> gradients;   // (flat_size), same layout, padding zero
  std::span<float> first;       // (flat_size), or empty: optimizer slot 1
  std::span<float> second;      // (flat_size), or empty: optimizer slot 2
  float* x = nullptr;           // (rows_capacity, input_width)
  float* grad_a = nullptr;      // (train_batch, widest layer output): backward ping-pong
  float* grad_b = nullptr;
  std::int32_t* labels = nullptr;   // (rows_capacity)
  float* targets = nullptr;         // (rows_capacity, output_width): regression
  float* sample_loss = nullptr;     // (rows_capacity)
  std::int32_t* correct = nullptr;  // (rows_capacity)
  DeviceTrial* trial = nullptr;
  MetricSums* evaluation = nullptr;
  double* learning_rates = nullptr;            // (steps_per_epoch): this epoch's schedule
  double* gradient_partials = nullptr;         // (gradient_partials), where clip_norm > 0
  std::uint32_t* order = nullptr;              // (train rows): this epoch's permutation
  std::span<unsigned char> shuffle_workspace;  // empty when shuffle is off
  // cuBLASLt's workspace for the products with ReLU epilogues; empty without them.
  std::span<unsigned char> epilogue_workspace;
  // Fields of *trial that kernels address directly.
  std::int64_t* trial_batch_first_row = nullptr;
  std::int64_t* trial_step = nullptr;
  MetricSums* trial_train = nullptr;
  std::int32_t* trial_nonfinite = nullptr;  // trial_train->nonfinite: the divergence flag
  std::vector<LayerViews> layers;
};

// The arena's layout: run once to measure (a plan without a base) and once over the allocation to
// bind the views. The order of the reservations is the memory layout. `parameters` must be aligned
// to kParameterAlignment (a ConfigError otherwise).
ArenaViews lay_out_arena(const ArenaShape& shape, const ParameterLayout& parameters, ArenaPlan& plan);

}  // namespace mlptune::cuda
