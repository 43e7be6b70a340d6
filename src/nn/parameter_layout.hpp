// Where a model's parameter tensors live in one flat array, as every backend stores them:
// layers.0.weight (out, in), layers.0.bias (out), layers.1.weight, ... in that order, back to back
// or with each tensor's start rounded up to an alignment (the CUDA backend's, for cuBLAS).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mlptune/model.hpp"
#include "mlptune/train_config.hpp"
#include "mlptune/trial.hpp"

namespace mlptune {

// One tensor's name and shape (as torch.nn.Linear names them) and its place in the flat array.
struct TensorSlot {
  std::string name;
  std::vector<std::int64_t> shape;
  std::size_t offset = 0;
  std::size_t count = 0;
};

class ParameterLayout {
 public:
  // Each tensor starts at a multiple of `alignment` elements (1: back to back). The elements
  // between tensors are padding: to_flat leaves them zero, and a trainer keeps them zero (nothing
  // writes them: their gradients stay zero, so every optimizer leaves them at zero).
  explicit ParameterLayout(const ModelSpec& model, std::size_t alignment = 1);

  const std::vector<TensorSlot>& tensors() const { return tensors_; }
  std::size_t layer_count() const { return tensors_.size() / 2; }
  const TensorSlot& weight(std::size_t layer) const { return tensors_[2 * layer]; }
  const TensorSlot& bias(std::size_t layer) const { return tensors_[2 * layer + 1]; }
  std::size_t parameter_count() const { return parameter_count_; }
  // Elements of the flat array: the parameters and the padding between them.
  std::size_t flat_size() const { return flat_size_; }
  std::size_t alignment() const { return alignment_; }

  // flat (flat_size) → one Tensor per slot.
  std::vector<Tensor> to_tensors(std::span<const float> flat) const;
  // Throws ConfigError "trial state: <what> ..." unless `tensors` are exactly this layout's
  // tensors (names, shapes and value counts, in order).
  void check(const std::vector<Tensor>& tensors, const char* what) const;
  // The inverse of to_tensors, after check(): flat_size elements, the padding zero.
  std::vector<float> to_flat(const std::vector<Tensor>& tensors, const char* what) const;

 private:
  std::vector<TensorSlot> tensors_;
  std::size_t alignment_ = 1;
  std::size_t parameter_count_ = 0;
  std::size_t flat_size_ = 0;
};

// The parameter-shaped arrays an optimizer keeps beside the parameters (TrialState's first and
// second moments): 0 (sgd), 1 (momentum, nesterov: velocity), 2 (adam, adamw: m and v).
int optimizer_slot_count(Optimizer optimizer);

}  // namespace mlptune
