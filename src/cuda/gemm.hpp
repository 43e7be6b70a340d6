// The three matrix products of a dense layer through cuBLAS, on row-major tensors. cuBLAS is
// column-major: a row-major (R, C) matrix is a column-major (C, R) one with leading dimension C,
// so each product below is written for the transposed (column-major) views.
#pragma once

#include <cublas_v2.h>

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

}  // namespace mlptune::cuda
