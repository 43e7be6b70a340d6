// The three matrix products of a dense layer through cuBLAS, on row-major tensors. cuBLAS is
// column-major: a row-major (R, C) matrix is a column-major (C, R) one with leading dimension C,
// so each product below is written for the transposed (column-major) views.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <tuple>

#include "mlptune/train_config.hpp"

namespace mlptune::cuda {

// fp32: CUBLAS_COMPUTE_32F (full float products). tf32: CUBLAS_COMPUTE_32F_FAST_TF32 (tensor cores,
// inputs rounded to a 10-bit mantissa, float accumulation). bf16 is rejected (ConfigError).
cublasComputeType_t compute_type(Precision precision);

// z (B, out) = x (B, in) · Wᵀ, W (out, in).
void linear_forward_product(cublasHandle_t handle, Precision precision, const float* x, const float* weight, float* z,
                            int batch, int in, int out);

// grad_weight (out, in) = grad_yᵀ · x, grad_y (B, out), x (B, in).
void linear_weight_gradient(cublasHandle_t handle, Precision precision, const float* x, const float* grad_y,
                            float* grad_weight, int batch, int in, int out);

// grad_x (B, in) = grad_y (B, out) · W (out, in).
void linear_input_gradient(cublasHandle_t handle, Precision precision, const float* weight, const float* grad_y,
                           float* grad_x, int batch, int in, int out);

// --- products with a ReLU epilogue (cuBLASLt) ----------------------------------------------------

// The cuBLASLt workspace of a trial (in its arena): the most an algorithm chosen for it may use.
inline constexpr std::size_t kEpilogueWorkspaceBytes = std::size_t(4) << 20;

// One cuBLASLt product D (m, n) = op(A) · op(B), column-major, float, with an epilogue: `bias` is
// the bias read (RELU_BIAS) or the bias gradient written (DRELU_BGRAD), `aux` the ReLU bit-mask
// written (RELU_AUX_BIAS) or read (DRELU_BGRAD), aux_ld its leading dimension in bits.
struct EpilogueProduct {
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  cublasOperation_t op_a = CUBLAS_OP_N;
  cublasOperation_t op_b = CUBLAS_OP_N;
  int m = 0;
  int n = 0;
  int k = 0;
  const float* a = nullptr;
  int lda = 0;
  const float* b = nullptr;
  int ldb = 0;
  float* d = nullptr;
  int ldd = 0;
  float* bias = nullptr;
  void* aux = nullptr;
  std::int64_t aux_ld = 0;
};

// out (B, out) = max(x (B, in) · Wᵀ + bias, 0): the forward product of a hidden ReLU layer. With a
// mask, also mask = the ReLU bit-mask of out (one bit per element, relu_mask_bits(out) bits per row
// of out, see trial_arena.hpp).
EpilogueProduct linear_bias_relu_product(const float* x, const float* weight, const float* bias, float* out, void* mask,
                                         int batch, int in, int out_width);

// grad_x (B, in) = (grad_y (B, out) · W (out, in)) where mask (written by the forward of the layer
// below, whose output is this layer's input x) has its bit, else 0; bias_grad (in) = Σ_rows grad_x:
// δ and the bias gradient of the ReLU layer below.
EpilogueProduct linear_input_gradient_relu_product(const float* weight, const float* grad_y, const void* mask,
                                                   float* grad_x, float* bias_grad, int batch, int in, int out);

// The cuBLASLt products of one trial, on its slot's cuBLAS handle (a cuBLAS handle serves as a
// cuBLASLt handle) and its workspace. Each shape's algorithm is chosen once, by prepare, and kept:
// the trainer prepares every product of its training step before any capture, so a captured step
// makes no heuristic query.
class EpilogueProducts {
 public:
  EpilogueProducts(cublasHandle_t handle, Precision precision, std::span<unsigned char> workspace);

  // Chooses the product's algorithm, once per shape; false where cuBLASLt has none for it.
  bool prepare(const EpilogueProduct& product);
  // Runs the product on `stream` (prepared here first if it was not; DeviceError where it cannot be).
  void run(const EpilogueProduct& product, cudaStream_t stream);

 private:
  using Shape = std::tuple<int, int, int, int, int, int, int, int, int, std::int64_t>;
  static Shape shape_of(const EpilogueProduct& product);

  cublasLtHandle_t handle_;
  cublasComputeType_t compute_;
  std::span<unsigned char> workspace_;
  std::map<Shape, cublasLtMatmulAlgo_t> algorithms_;
};

}  // namespace mlptune::cuda
