// One training step of the CUDA trainer as data: the list of launches it issues in order, each a
// node of the step's graph, so the host tests count and check them without a GPU. Plain C++.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <vector>

namespace mlptune::cuda {

// B rows, layer l of L maps in_l to out_l; δ is ∂L/∂(a layer's pre-activation).
enum class StepOp {
  gather,               // x (B, input), labels or targets (B, ·); starts the step (learning rate, batch position)
  linear_forward,       // pre_l (B, out) = input_l · W_lᵀ (cuBLAS)
  linear_bias_relu,     // hidden l: out_l = max(input_l · W_lᵀ + b_l, 0) (cuBLASLt epilogue), and in training
                        // (mask) relu_mask_l = whether out_l > 0, one bit per element; pre_l is not written
  bias_activation,      // hidden l: pre_l += b_l, out_l = f(pre_l), then the dropout mask where planned
  loss,                 // logits += b_(L-1); sample losses, δ_(L-1), ∂L/∂b_(L-1) and the step's metrics
  weight_gradient,      // ∂L/∂W_l (out, in) = δ_lᵀ · input_l (cuBLAS)
  input_gradient,       // ∂L/∂out_(l-1) (B, in) = δ_l · W_l (cuBLAS)
  input_gradient_relu,  // δ_(l-1) (B, in) = (δ_l · W_l) masked by relu_mask_(l-1), ∂L/∂b_(l-1) = Σ_rows δ_(l-1)
                        // (cuBLASLt epilogue)
  activation_bias_grad,  // hidden l: δ_l = ∂L/∂out_l (masked where planned) · f'(pre_l), ∂L/∂b_l = Σ_rows δ_l
  clip_gradient_norm,    // every gradient scaled to the global norm limit (two launches)
  optimizer_update,      // every parameter; ends the step (steps taken += 1)
};

struct PlannedLaunch {
  StepOp op;
  int layer = -1;        // the layer it works on; -1 for the whole step's launches
  bool dropout = false;  // applies the step's dropout mask of `layer` (training, hidden layers)
  bool mask = false;     // linear_bias_relu: writes the layer's ReLU mask (training)
  bool operator==(const PlannedLaunch&) const = default;
};

// Graph nodes of one planned launch: every op is one kernel or one cuBLAS call, but the clipping's
// two passes (block partials, then the scaling).
inline std::size_t graph_nodes(const PlannedLaunch& launch) {
  return launch.op == StepOp::clip_gradient_norm ? 2 : 1;
}

inline std::size_t graph_nodes(std::span<const PlannedLaunch> launches) {
  std::size_t nodes = 0;
  for (const PlannedLaunch& launch : launches) nodes += graph_nodes(launch);
  return nodes;
}

// The step's phases, in order, named as its NVTX ranges ("forward", "backward", "update").
enum class StepPhase { forward, backward, update };

inline StepPhase step_phase(StepOp op) {
  switch (op) {
    case StepOp::gather:
    case StepOp::linear_forward:
    case StepOp::linear_bias_relu:
    case StepOp::bias_activation:
    case StepOp::loss:
      return StepPhase::forward;
    case StepOp::weight_gradient:
    case StepOp::input_gradient:
    case StepOp::input_gradient_relu:
    case StepOp::activation_bias_grad:
    case StepOp::clip_gradient_norm:
      return StepPhase::backward;
    case StepOp::optimizer_update:
      break;
  }
  return StepPhase::update;
}

inline const char* phase_name(StepPhase phase) {
  switch (phase) {
    case StepPhase::forward:
      return "forward";
    case StepPhase::backward:
      return "backward";
    case StepPhase::update:
      break;
  }
  return "update";
}

// What decides a step's launches.
struct StepShape {
  int layers = 0;          // dense layers, the output layer included
  bool dropout = false;    // a dropout rate above 0 after each hidden activation
  bool clip_norm = false;  // a gradient norm limit
  // The activation is ReLU and the matrix products take it in their epilogues (with dropout they
  // cannot: the mask sits between the activation and the next product)...
  bool relu_epilogues = false;
  // ...but for the hidden layers of these bits (bit l: layer l), whose products cuBLASLt has no
  // algorithm for: they keep the kernels.
  std::uint64_t kernel_layers = 0;
};

// Whether hidden layer l's bias and ReLU ride in its forward product's epilogue, and their
// derivative and bias gradient in the input gradient's of layer l + 1.
inline bool fused_relu(const StepShape& shape, int l) {
  return shape.relu_epilogues && !shape.dropout && l < 64 && (shape.kernel_layers >> l & 1) == 0;
}

// The forward pass up to the logits, whose bias the loss adds: each layer's product, and on hidden
// layers the bias and activation (and dropout, in training: shape.dropout), in the product's
// epilogue where fused_relu (writing the ReLU mask the backward reads, in training).
inline void plan_forward(const StepShape& shape, std::vector<PlannedLaunch>& launches, bool training = false) {
  for (int l = 0; l < shape.layers; ++l) {
    if (l < shape.layers - 1 && fused_relu(shape, l)) {
      launches.push_back({StepOp::linear_bias_relu, l, false, training});
      continue;
    }
    launches.push_back({StepOp::linear_forward, l});
    if (l == shape.layers - 1) break;
    launches.push_back({StepOp::bias_activation, l, shape.dropout});
  }
}

// gather, forward, loss, backward from the output layer down, clipping, update.
inline std::vector<PlannedLaunch> plan_training_step(const StepShape& shape) {
  std::vector<PlannedLaunch> launches{{StepOp::gather}};
  plan_forward(shape, launches, true);
  launches.push_back({StepOp::loss});
  for (int l = shape.layers - 1; l >= 0; --l) {
    launches.push_back({StepOp::weight_gradient, l});
    if (l == 0) break;
    if (fused_relu(shape, l - 1)) {
      launches.push_back({StepOp::input_gradient_relu, l});
      continue;
    }
    launches.push_back({StepOp::input_gradient, l});
    launches.push_back({StepOp::activation_bias_grad, l - 1, shape.dropout});
  }
  if (shape.clip_norm) launches.push_back({StepOp::clip_gradient_norm});
  launches.push_back({StepOp::optimizer_update});
  return launches;
}

// The distinct row counts of a pass over `rows` rows in chunks of at most `capacity` (full chunks,
// then the remainder): each count is one set of matrix-product shapes.
inline std::vector<int> chunk_row_counts(std::size_t rows, std::size_t capacity) {
  std::vector<int> counts;
  if (rows >= capacity) counts.push_back(int(capacity));
  if (rows % capacity != 0) counts.push_back(int(rows % capacity));
  return counts;
}

// The row counts a pass has run with. cuBLAS picks (and CUDA loads) kernels per matrix shape, so a
// pass over a row count not run before loads kernels, which may synchronise the device: such a run
// must hold the device exclusively, whichever pass it is.
class RowCountsRun {
 public:
  // Whether a pass over these row counts loads kernels not loaded by an earlier one.
  bool first_use(std::span<const int> counts) const {
    for (const int count : counts)
      if (!run_.contains(count)) return true;
    return false;
  }
  void record(std::span<const int> counts) { run_.insert(counts.begin(), counts.end()); }

 private:
  std::set<int> run_;
};

}  // namespace mlptune::cuda
