// cuBLAS matrix products of a dense layer (forward, weight gradient, input gradient).
#include "cuda/gemm.hpp"

#include "cuda/cuda_check.hpp"
#include "mlptune/error.hpp"

namespace mlptune::cuda {
namespace {

// C (m, n) = op(A) · op(B), column-major, float in and out, beta = 0.
void gemm(cublasHandle_t handle, Precision precision, cublasOperation_t op_a, cublasOperation_t op_b, int m, int n,
          int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc) {
  const float alpha = 1.0f;
  const float beta = 0.0f;
  MLPTUNE_CUDA_CHECK(cublasGemmEx(handle, op_a, op_b, m, n, k, &alpha, a, CUDA_R_32F, lda, b, CUDA_R_32F, ldb, &beta, c,
                                  CUDA_R_32F, ldc, compute_type(precision), CUBLAS_GEMM_DEFAULT));
}

}  // namespace

cublasComputeType_t compute_type(Precision precision) {
  switch (precision) {
    case Precision::fp32:
      return CUBLAS_COMPUTE_32F;
    case Precision::tf32:
      return CUBLAS_COMPUTE_32F_FAST_TF32;
    case Precision::bf16:
      break;
  }
  throw ConfigError("--precision bf16 is not supported by the CUDA backend yet; use fp32 or tf32");
}

// Row-major z (B, out) is column-major Zc (out, B); x is Xc (in, B); W (out, in) is Wc (in, out).
// z = x·Wᵀ  ⇔  Zc = Wcᵀ · Xc: m = out, n = B, k = in.
void linear_forward_product(cublasHandle_t handle, Precision precision, const float* x, const float* weight, float* z,
                            int batch, int in, int out) {
  gemm(handle, precision, CUBLAS_OP_T, CUBLAS_OP_N, out, batch, in, weight, in, x, in, z, out);
}

// Row-major grad_weight (out, in) is column-major Gwc (in, out); grad_y (B, out) is Gc (out, B).
// grad_weight = grad_yᵀ·x  ⇔  Gwc = Xc · Gcᵀ: m = in, n = out, k = B.
void linear_weight_gradient(cublasHandle_t handle, Precision precision, const float* x, const float* grad_y,
                            float* grad_weight, int batch, int in, int out) {
  gemm(handle, precision, CUBLAS_OP_N, CUBLAS_OP_T, in, out, batch, x, in, grad_y, out, grad_weight, in);
}

// Row-major grad_x (B, in) is column-major Gxc (in, B).
// grad_x = grad_y·W  ⇔  Gxc = Wc · Gc: m = in, n = B, k = out.
void linear_input_gradient(cublasHandle_t handle, Precision precision, const float* weight, const float* grad_y,
                           float* grad_x, int batch, int in, int out) {
  gemm(handle, precision, CUBLAS_OP_N, CUBLAS_OP_N, in, batch, out, weight, in, grad_y, out, grad_x, in);
}

}  // namespace mlptune::cuda
