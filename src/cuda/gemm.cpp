// cuBLAS matrix products of a dense layer (forward, weight gradient, input gradient).
#include "cuda/gemm.hpp"

#include <string>

#include "cuda/cuda_check.hpp"
#include "cuda/trial_arena.hpp"
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

// --- products with a ReLU epilogue ----------------------------------------------------------------

// The forward product as linear_forward_product (Zc = Wcᵀ · Xc: m = out, n = B, k = in) with the
// bias (length m = out, broadcast over the B columns) and ReLU in the epilogue. The mask has one bit
// per element of Zc, column after column, relu_mask_bits(out) bits per column (cuBLASLt: a multiple
// of 128, at least m).
EpilogueProduct linear_bias_relu_product(const float* x, const float* weight, const float* bias, float* out, void* mask,
                                         int batch, int in, int out_width) {
  EpilogueProduct product;
  product.epilogue = mask != nullptr ? CUBLASLT_EPILOGUE_RELU_AUX_BIAS : CUBLASLT_EPILOGUE_RELU_BIAS;
  product.op_a = CUBLAS_OP_T;
  product.op_b = CUBLAS_OP_N;
  product.m = out_width;
  product.n = batch;
  product.k = in;
  product.a = weight;
  product.lda = in;
  product.b = x;
  product.ldb = in;
  product.d = out;
  product.ldd = out_width;
  product.bias = const_cast<float*>(bias);  // read only: the BIAS epilogues take it as const void*
  product.aux = mask;
  product.aux_ld = mask != nullptr ? relu_mask_bits(out_width) : 0;
  return product;
}

// The input gradient as linear_input_gradient (Gxc = Wc · Gc: m = in, n = B, k = out), then in the
// epilogue Gxc zeroed where the mask of the layer below (its Zc: in rows, B columns, the same
// layout) has no bit, and the bias gradient = the sum of Gxc's columns, after the mask.
EpilogueProduct linear_input_gradient_relu_product(const float* weight, const float* grad_y, const void* mask,
                                                   float* grad_x, float* bias_grad, int batch, int in, int out) {
  EpilogueProduct product;
  product.epilogue = CUBLASLT_EPILOGUE_DRELU_BGRAD;
  product.op_a = CUBLAS_OP_N;
  product.op_b = CUBLAS_OP_N;
  product.m = in;
  product.n = batch;
  product.k = out;
  product.a = weight;
  product.lda = in;
  product.b = grad_y;
  product.ldb = out;
  product.d = grad_x;
  product.ldd = in;
  product.bias = bias_grad;
  product.aux = const_cast<void*>(mask);  // read only: DRELU_BGRAD takes it as const void*
  product.aux_ld = relu_mask_bits(in);
  return product;
}

namespace {

// The descriptors of one cuBLASLt product, destroyed with it. Host objects only: making them
// during a capture records nothing.
struct EpilogueDescriptors {
  cublasLtMatmulDesc_t operation = nullptr;
  cublasLtMatrixLayout_t a = nullptr;
  cublasLtMatrixLayout_t b = nullptr;
  cublasLtMatrixLayout_t d = nullptr;

  EpilogueDescriptors(const EpilogueProduct& product, cublasComputeType_t compute) {
    try {
      MLPTUNE_CUDA_CHECK(cublasLtMatmulDescCreate(&operation, compute, CUDA_R_32F));
      set(CUBLASLT_MATMUL_DESC_TRANSA, product.op_a);
      set(CUBLASLT_MATMUL_DESC_TRANSB, product.op_b);
      set(CUBLASLT_MATMUL_DESC_EPILOGUE, product.epilogue);
      set(CUBLASLT_MATMUL_DESC_BIAS_POINTER, static_cast<void*>(product.bias));
      if (product.aux != nullptr) {
        set(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, product.aux);
        set(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, product.aux_ld);
      }
      const bool a_plain = product.op_a == CUBLAS_OP_N;
      const bool b_plain = product.op_b == CUBLAS_OP_N;
      MLPTUNE_CUDA_CHECK(cublasLtMatrixLayoutCreate(&a, CUDA_R_32F, a_plain ? product.m : product.k,
                                                    a_plain ? product.k : product.m, product.lda));
      MLPTUNE_CUDA_CHECK(cublasLtMatrixLayoutCreate(&b, CUDA_R_32F, b_plain ? product.k : product.n,
                                                    b_plain ? product.n : product.k, product.ldb));
      MLPTUNE_CUDA_CHECK(cublasLtMatrixLayoutCreate(&d, CUDA_R_32F, product.m, product.n, product.ldd));
    } catch (...) {
      release();
      throw;
    }
  }
  ~EpilogueDescriptors() { release(); }
  EpilogueDescriptors(const EpilogueDescriptors&) = delete;
  EpilogueDescriptors& operator=(const EpilogueDescriptors&) = delete;

  template <class Value>
  void set(cublasLtMatmulDescAttributes_t attribute, const Value& value) {
    MLPTUNE_CUDA_CHECK(cublasLtMatmulDescSetAttribute(operation, attribute, &value, sizeof(value)));
  }
  void release() noexcept {
    if (d != nullptr) MLPTUNE_CUDA_LOG(cublasLtMatrixLayoutDestroy(d));
    if (b != nullptr) MLPTUNE_CUDA_LOG(cublasLtMatrixLayoutDestroy(b));
    if (a != nullptr) MLPTUNE_CUDA_LOG(cublasLtMatrixLayoutDestroy(a));
    if (operation != nullptr) MLPTUNE_CUDA_LOG(cublasLtMatmulDescDestroy(operation));
    operation = nullptr;
    a = b = d = nullptr;
  }
};

}  // namespace

// cuBLAS: "cublasHandle_t ... can be used in place of cublasLtHandle_t with a simple cast".
EpilogueProducts::EpilogueProducts(cublasHandle_t handle, Precision precision, std::span<unsigned char> workspace)
    : handle_(reinterpret_cast<cublasLtHandle_t>(handle)), compute_(compute_type(precision)), workspace_(workspace) {}

// Everything but the pointers, which are the arena's (256-byte aligned) for every product.
EpilogueProducts::Shape EpilogueProducts::shape_of(const EpilogueProduct& product) {
  return {int(product.epilogue), int(product.op_a), int(product.op_b), product.m,     product.n, product.k,
          product.lda,           product.ldb,       product.ldd,       product.aux_ld};
}

bool EpilogueProducts::prepare(const EpilogueProduct& product) {
  const Shape shape = shape_of(product);
  if (algorithms_.contains(shape)) return true;
  const EpilogueDescriptors descriptors(product, compute_);
  cublasLtMatmulPreference_t preference = nullptr;
  MLPTUNE_CUDA_CHECK(cublasLtMatmulPreferenceCreate(&preference));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const std::uint64_t workspace_bytes = workspace_.size();
  cublasStatus_t status = cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                               &workspace_bytes, sizeof(workspace_bytes));
  // Split-K only where the parts are reduced in the output itself: a reduction "in a separate step"
  // would be a second launch, a second node of the step's graph.
  const std::uint32_t reductions = CUBLASLT_REDUCTION_SCHEME_INPLACE;
  if (status == CUBLAS_STATUS_SUCCESS)
    status = cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &reductions,
                                                  sizeof(reductions));
  if (status == CUBLAS_STATUS_SUCCESS)
    status = cublasLtMatmulAlgoGetHeuristic(handle_, descriptors.operation, descriptors.a, descriptors.b, descriptors.d,
                                            descriptors.d, preference, 1, &result, &found);
  MLPTUNE_CUDA_LOG(cublasLtMatmulPreferenceDestroy(preference));
  // No algorithm for this epilogue, these types and this shape (NOT_SUPPORTED, or none found), or
  // a product cuBLASLt refuses (INVALID_VALUE): the caller keeps its kernels, which need none.
  if (status != CUBLAS_STATUS_SUCCESS || found == 0) return false;
  algorithms_.emplace(shape, result.algo);
  return true;
}

void EpilogueProducts::run(const EpilogueProduct& product, cudaStream_t stream) {
  if (!prepare(product))
    throw DeviceError("cuBLASLt has no algorithm for a " + std::to_string(product.m) + "x" + std::to_string(product.n) +
                      "x" + std::to_string(product.k) + " product with a ReLU epilogue");
  const cublasLtMatmulAlgo_t& algorithm = algorithms_.at(shape_of(product));
  const EpilogueDescriptors descriptors(product, compute_);
  const float alpha = 1.0f;
  const float beta = 0.0f;
  MLPTUNE_CUDA_CHECK(cublasLtMatmul(handle_, descriptors.operation, &alpha, product.a, descriptors.a, product.b,
                                    descriptors.b, &beta, product.d, descriptors.d, product.d, descriptors.d,
                                    &algorithm, workspace_.data(), workspace_.size(), stream));
}

}  // namespace mlptune::cuda
