#include "cuda/dialect.h"

#include "cuda/cuda_check.h"
#include "cuda/kernel_utils.h"
#include "cuda/losses_cuda.h"

namespace vla::VLA_CUDA_NS {

namespace {

constexpr int kThreads = 256;

// The residual of either loss: a - b (mse: pred - target), or a - (b - c) (flow matching:
// v - (eps - actions)).
template <bool kFlow>
__device__ inline float residual(const float* a, const float* b, const float* c, int64_t i) {
  return kFlow ? a[i] - (b[i] - c[i]) : a[i] - b[i];
}

// per_sample[b] = sum_j r^2 / J in double; one block per sample.
template <bool kFlow>
__global__ void per_sample_kernel(const float* a, const float* b_, const float* c_, float* per_sample, int64_t B,
                                  int64_t J) {
  __shared__ double red[32];
  for (int64_t b = blockIdx.x; b < B; b += gridDim.x) {  // uniform
    double acc = 0;
    for (int64_t j = threadIdx.x; j < J; j += blockDim.x) {
      const double r = static_cast<double>(residual<kFlow>(a, b_, c_, b * J + j));
      acc += r * r;
    }
    acc = block_sum(acc, red);
    if (threadIdx.x == 0) per_sample[b] = static_cast<float>(acc / static_cast<double>(J));
  }
}

// loss = sum_b w_b per_sample[b] / B in double; one block.
__global__ void weighted_mean_kernel(const float* weights, const float* per_sample, float* loss, int64_t B) {
  __shared__ double red[32];
  double acc = 0;
  for (int64_t b = threadIdx.x; b < B; b += blockDim.x)
    acc += (weights ? static_cast<double>(weights[b]) : 1.0) * static_cast<double>(per_sample[b]);
  acc = block_sum(acc, red);
  if (threadIdx.x == 0) *loss = static_cast<float>(acc / static_cast<double>(B));
}

// g = (dloss w_b / B + dper_sample[b]) 2 r / J, scattered into the non-null gradients:
// ga += g, gb -= g, gc += g (mse: dpred, dtarget; flow: dv, deps, dactions).
template <bool kFlow>
__global__ void mse_bwd_kernel(const float* a, const float* b_, const float* c_, const float* weights, float dloss,
                               const float* dper_sample, float* ga, float* gb, float* gc, int64_t B, int64_t J) {
  for (int64_t b = blockIdx.y; b < B; b += gridDim.y) {
    float coef = dloss * (weights ? weights[b] : 1.0f) / static_cast<float>(B);
    if (dper_sample) coef += dper_sample[b];
    coef *= 2.0f / static_cast<float>(J);
    for (int64_t j = grid_index(); j < J; j += grid_stride()) {
      const int64_t i = b * J + j;
      const float g = coef * residual<kFlow>(a, b_, c_, i);
      if (ga) ga[i] += g;
      if (gb) gb[i] -= g;
      if (kFlow && gc) gc[i] += g;
    }
  }
}

__global__ void interpolate_fwd_kernel(const float* eps, const float* actions, const float* t, float* x_t, int64_t B,
                                       int64_t J) {
  for (int64_t b = blockIdx.y; b < B; b += gridDim.y) {
    const float tb = t[b], sb = 1.0f - t[b];
    for (int64_t j = grid_index(); j < J; j += grid_stride()) {
      const int64_t i = b * J + j;
      x_t[i] = tb * eps[i] + sb * actions[i];
    }
  }
}

// One block per sample: the elementwise gradients, and dt[b] as a block sum (when dt is given).
__global__ void interpolate_bwd_kernel(const float* eps, const float* actions, const float* t, const float* dx_t,
                                       float* deps, float* dactions, float* dt, int64_t B, int64_t J) {
  __shared__ float red[32];
  for (int64_t b = blockIdx.x; b < B; b += gridDim.x) {  // uniform
    const float tb = t[b], sb = 1.0f - t[b];
    float acc = 0.0f;
    for (int64_t j = threadIdx.x; j < J; j += blockDim.x) {
      const int64_t i = b * J + j;
      const float d = dx_t[i];
      if (deps) deps[i] += tb * d;
      if (dactions) dactions[i] += sb * d;
      acc += d * (eps[i] - actions[i]);
    }
    if (dt) {  // uniform
      acc = block_sum(acc, red);
      if (threadIdx.x == 0) dt[b] += acc;
    }
  }
}

// Threads per block along J: J rounded up to a warp, at most kThreads (short samples do not
// idle most of a block). Samples over blockIdx.y (elementwise) or blockIdx.x (block sums).
inline int sample_threads(int64_t J) { return threads_for_row(J, kThreads); }
inline dim3 sample_grid(int64_t B, int64_t J) { return row_grid(B, J, sample_threads(J)); }
inline unsigned sample_blocks(int64_t B) { return capped(B, kMaxBlocks); }

template <bool kFlow>
void loss_forward(const float* a, const float* b, const float* c, const float* weights, float* loss,
                  float* per_sample, int64_t B, int64_t J) {
  if (B <= 0 || J <= 0) return;  // undefined (the registered ops reject it)
  auto k = per_sample_kernel<kFlow>;
  VLA_LAUNCH(k, sample_blocks(B), sample_threads(J), 0, a, b, c, per_sample, B, J);
  VLA_CUDA_CHECK(cudaGetLastError());
  VLA_LAUNCH(weighted_mean_kernel, 1, kThreads, 0, weights, per_sample, loss, B);
  VLA_CUDA_CHECK(cudaGetLastError());
}

template <bool kFlow>
void loss_backward(const float* a, const float* b, const float* c, const float* weights, float dloss,
                   const float* dper_sample, float* ga, float* gb, float* gc, int64_t B, int64_t J) {
  if (B <= 0 || J <= 0 || (!ga && !gb && !gc)) return;
  auto k = mse_bwd_kernel<kFlow>;
  VLA_LAUNCH(k, sample_grid(B, J), sample_threads(J), 0, a, b, c, weights, dloss, dper_sample, ga, gb, gc, B, J);
  VLA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void mse_loss_forward(const float* pred, const float* target, const float* weights, float* loss, float* per_sample,
                      int64_t B, int64_t J) {
  loss_forward<false>(pred, target, nullptr, weights, loss, per_sample, B, J);
}

void mse_loss_backward(const float* pred, const float* target, const float* weights, float dloss,
                       const float* dper_sample, float* dpred, float* dtarget, int64_t B, int64_t J) {
  loss_backward<false>(pred, target, nullptr, weights, dloss, dper_sample, dpred, dtarget, nullptr, B, J);
}

void flow_matching_loss_forward(const float* v, const float* eps, const float* actions, const float* weights,
                                float* loss, float* per_sample, int64_t B, int64_t J) {
  loss_forward<true>(v, eps, actions, weights, loss, per_sample, B, J);
}

void flow_matching_loss_backward(const float* v, const float* eps, const float* actions, const float* weights,
                                 float dloss, const float* dper_sample, float* dv, float* deps, float* dactions,
                                 int64_t B, int64_t J) {
  loss_backward<true>(v, eps, actions, weights, dloss, dper_sample, dv, deps, dactions, B, J);
}

void flow_interpolate_forward(const float* eps, const float* actions, const float* t, float* x_t, int64_t B,
                              int64_t J) {
  if (B <= 0 || J <= 0) return;
  VLA_LAUNCH(interpolate_fwd_kernel, sample_grid(B, J), sample_threads(J), 0, eps, actions, t, x_t, B, J);
  VLA_CUDA_CHECK(cudaGetLastError());
}

void flow_interpolate_backward(const float* eps, const float* actions, const float* t, const float* dx_t,
                               float* deps, float* dactions, float* dt, int64_t B, int64_t J) {
  if (B <= 0 || J <= 0 || (!deps && !dactions && !dt)) return;
  VLA_LAUNCH(interpolate_bwd_kernel, sample_blocks(B), sample_threads(J), 0, eps, actions, t, dx_t, deps, dactions,
             dt, B, J);
  VLA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace vla::VLA_CUDA_NS
