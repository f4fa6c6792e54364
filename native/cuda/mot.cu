// The device backend of model/mot_impl.h: each op of the layer stack mapped to its CUDA twin.
#include "cuda/dialect.h"
#include "cuda/activations_cuda.h"
#include "cuda/attention_cuda.h"
#include "cuda/cuda_check.h"
#include "cuda/gemm_cuda.h"
#include "cuda/linear_cuda.h"
#include "cuda/mot_cuda.h"
#include "cuda/rmsnorm_cuda.h"
#include "cuda/rope_cuda.h"
#include "cuda/rows_cuda.h"
#include "model/mot_impl.h"

namespace vla::VLA_CUDA_NS {

namespace {

namespace ns = ::vla::VLA_CUDA_NS;

struct DeviceMotOps {
  static void rmsnorm_forward(const float* x, const float* w, float eps, float* y, float* rstd, int64_t M, int64_t C) {
    ns::rmsnorm_forward(x, w, eps, y, rstd, M, C);
  }
  static void rmsnorm_backward(const float* dy, const float* x, const float* w, const float* rstd, float* dx,
                               float* dw, int64_t M, int64_t C) {
    ns::rmsnorm_backward(dy, x, w, rstd, dx, dw, M, C);
  }
  static void rope_forward(const float* x, const int32_t* pos, double theta, float* y, const RopeShape& s) {
    ns::rope_forward(x, pos, theta, y, s);
  }
  static void rope_backward(const float* dy, const int32_t* pos, double theta, float* dx, const RopeShape& s) {
    ns::rope_backward(dy, pos, theta, dx, s);
  }
  static void attention_forward(const float* q, const float* k, const float* v, const uint8_t* mask, float scale,
                                float* out, float* probs, const AttentionShape& s) {
    ns::attention_forward(q, k, v, mask, scale, out, probs, s);
  }
  static void attention_backward(const float* q, const float* k, const float* v, const float* probs,
                                 const float* dout, float scale, float* dq, float* dk, float* dv,
                                 const AttentionShape& s) {
    ns::attention_backward(q, k, v, probs, dout, scale, dq, dk, dv, s);
  }
  static void geglu_forward(const float* x, float* y, int64_t M, int64_t F) { ns::geglu_forward(x, y, M, F); }
  static void geglu_backward(const float* dy, const float* x, float* dx, int64_t M, int64_t F) {
    ns::geglu_backward(dy, x, dx, M, F);
  }
  // dx (+)= dy W, dW += dy^T x, db += column sums of dy (model/mot.h's linear_rows_backward).
  static void linear_rows_backward(const float* dy, const float* x, const float* W, float* dx, float* dW, float* db,
                                   int64_t M, int64_t K, int64_t N, bool accumulate_dx = true) {
    if (dx) ns::gemm(false, false, M, K, N, 1.0f, dy, N, W, K, accumulate_dx ? 1.0f : 0.0f, dx, K);
    if (dW) ns::gemm(true, false, N, K, M, 1.0f, dy, N, x, K, 1.0f, dW, K);
    if (db) ns::linear_backward(dy, x, W, nullptr, nullptr, db, M, K, N);
  }
  static void project(const float* x, const float* W, const PackedWeights* packed, float* y, int64_t M, int64_t K,
                      int64_t N, float beta) {
    VLA_CHECK(packed == nullptr);  // packs are host memory laid out for the CPU kernels
    ns::gemm(false, true, M, N, K, 1.0f, x, K, W, K, beta, y, N);
  }
  static void copy(float* dst, const float* src, int64_t n) {
    if (n > 0) VLA_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(n) * sizeof(float), cudaMemcpyDeviceToDevice));
  }
  static void zero(float* p, int64_t n) {
    if (n > 0) VLA_CUDA_CHECK(cudaMemsetAsync(p, 0, static_cast<size_t>(n) * sizeof(float)));
  }
  static void add_into(float* dst, const float* src, int64_t n) { copy_strided(dst, 0, src, 0, 1, n, true); }
  static void scatter_rows(const float* src, float* dst, int64_t B, int64_t len, int64_t Tk, int64_t off, int64_t row) {
    copy_strided(dst + off * row, Tk * row, src, len * row, B, len * row, false);
  }
  static void gather_rows(const float* src, float* dst, int64_t B, int64_t len, int64_t Tk, int64_t off, int64_t row) {
    copy_strided(dst, len * row, src + off * row, Tk * row, B, len * row, false);
  }
  static void add_key_range(const float* src, float* dst, int64_t B, int64_t len, int64_t Tk, int64_t off,
                            int64_t row) {
    copy_strided(dst + off * row, Tk * row, src + off * row, Tk * row, B, len * row, true);
  }
  static void zero_key_rows(float* p, int64_t B, int64_t Tk, int64_t begin, int64_t row) {
    if (begin < Tk) fill_strided(p + begin * row, Tk * row, B, (Tk - begin) * row, 0.0f);
  }
};

}  // namespace

void mot_forward(const ModelConfig& cfg, const ParamsView<float>& p, int64_t B, const KeyLayout& keys,
                 KvCache<float>& kv, const std::vector<SegmentActs<float>*>& active) {
  mot_forward_impl<float, DeviceMotOps>(cfg, p, B, keys, kv, active);
}

void mot_backward(const ModelConfig& cfg, const ParamsView<float>& p, const ParamsView<float>& g, int64_t B,
                  const KeyLayout& keys, const KvCache<float>& kv, const std::vector<SegmentActs<float>*>& active,
                  const std::vector<SegmentGrad<float>>& grads, const GradientRouting& routing, Arena& scratch) {
  mot_backward_impl<float, DeviceMotOps>(cfg, p, g, B, keys, kv, active, grads, routing, scratch);
}

}  // namespace vla::VLA_CUDA_NS
