#include "cuda/dialect.h"

#include "cuda/activations_cuda.h"
#include "cuda/cuda_check.h"
#include "cuda/kernel_utils.h"

namespace vla::VLA_CUDA_NS {

namespace {

constexpr int kThreads = 256;

__device__ inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

__device__ inline void gelu_tanh_and_grad(float x, float* value, float* grad) {
  const float k = 0.7978845608028654f, c = 0.044715f;
  float x2 = x * x;
  float th = tanhf(k * (x + c * x2 * x));
  *value = 0.5f * x * (1.0f + th);
  *grad = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * k * (1.0f + 3.0f * c * x2);
}

// Grid-stride loops: any n with a bounded grid.
__global__ void silu_fwd_kernel(const float* x, float* y, int64_t n) {
  for (int64_t i = grid_index(); i < n; i += grid_stride())
    y[i] = x[i] * sigmoidf(x[i]);
}

__global__ void silu_bwd_kernel(const float* dy, const float* x, float* dx, int64_t n) {
  for (int64_t i = grid_index(); i < n; i += grid_stride()) {
    float s = sigmoidf(x[i]);
    dx[i] += dy[i] * s * (1.0f + x[i] * (1.0f - s));
  }
}

__global__ void gelu_fwd_kernel(const float* x, float* y, int64_t n) {
  for (int64_t i = grid_index(); i < n; i += grid_stride()) {
    float v, g;
    gelu_tanh_and_grad(x[i], &v, &g);
    y[i] = v;
  }
}

__global__ void gelu_bwd_kernel(const float* dy, const float* x, float* dx, int64_t n) {
  for (int64_t i = grid_index(); i < n; i += grid_stride()) {
    float v, g;
    gelu_tanh_and_grad(x[i], &v, &g);
    dx[i] += dy[i] * g;
  }
}

__global__ void geglu_fwd_kernel(const float* x, float* y, int64_t M, int64_t F) {
  int64_t n = M * F;
  for (int64_t i = grid_index(); i < n; i += grid_stride()) {
    int64_t r = i / F, j = i % F;
    float v, g;
    gelu_tanh_and_grad(x[r * 2 * F + j], &v, &g);
    y[i] = v * x[r * 2 * F + F + j];
  }
}

__global__ void geglu_bwd_kernel(const float* dy, const float* x, float* dx, int64_t M, int64_t F) {
  int64_t n = M * F;
  for (int64_t i = grid_index(); i < n; i += grid_stride()) {
    int64_t r = i / F, j = i % F;
    float v, g;
    const float gate = x[r * 2 * F + j], up = x[r * 2 * F + F + j];
    gelu_tanh_and_grad(gate, &v, &g);
    dx[r * 2 * F + j] += dy[i] * up * g;
    dx[r * 2 * F + F + j] += dy[i] * v;
  }
}

}  // namespace


void silu_forward(const float* x, float* y, int64_t n) { VLA_LAUNCH_OVER(silu_fwd_kernel, n, kThreads, x, y, n); }
void silu_backward(const float* dy, const float* x, float* dx, int64_t n) { VLA_LAUNCH_OVER(silu_bwd_kernel, n, kThreads, dy, x, dx, n); }
void gelu_tanh_forward(const float* x, float* y, int64_t n) { VLA_LAUNCH_OVER(gelu_fwd_kernel, n, kThreads, x, y, n); }
void gelu_tanh_backward(const float* dy, const float* x, float* dx, int64_t n) { VLA_LAUNCH_OVER(gelu_bwd_kernel, n, kThreads, dy, x, dx, n); }
void geglu_forward(const float* x, float* y, int64_t M, int64_t F) { VLA_LAUNCH_OVER(geglu_fwd_kernel, M * F, kThreads, x, y, M, F); }
void geglu_backward(const float* dy, const float* x, float* dx, int64_t M, int64_t F) {
  VLA_LAUNCH_OVER(geglu_bwd_kernel, M * F, kThreads, dy, x, dx, M, F);
}


}  // namespace vla::VLA_CUDA_NS
