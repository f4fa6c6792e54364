#include "cuda/cuda_check.h"
#include "cuda/dialect.h"
#include "cuda/kernel_utils.h"
#include "cuda/policy_kernels_cuda.h"

namespace vla::VLA_CUDA_NS {

namespace {

constexpr int kThreads = 256;

#define GRID_STRIDE(i, n) for (int64_t i = grid_index(); i < (n); i += grid_stride())

__global__ void patchify_kernel(const uint8_t* images, float* patches, int64_t B, int64_t F, int64_t S, int64_t ps) {
  const int64_t G = S / ps, pd = ps * ps * 3, total = B * F * G * G * pd;
  GRID_STRIDE(i, total) {
    int64_t k = i % pd, row = i / pd;
    int64_t gx = row % G, gy = (row / G) % G, f = (row / (G * G)) % F, b = row / (G * G * F);
    int64_t dy = k / (ps * 3), rest = k % (ps * 3);
    const uint8_t v = images[(((b * F + f) * S + gy * ps + dy) * S + gx * ps) * 3 + rest];
    patches[i] = static_cast<float>(v) * static_cast<float>(1.0 / 127.5) - 1.0f;
  }
}

__global__ void assemble_obs_kernel(const float* patch_rows, const float* pos, const float* text_rows, float* x0,
                                    int64_t B, int64_t P, int64_t L, int64_t w) {
  const int64_t T = P + L, total = B * T * w;
  GRID_STRIDE(i, total) {
    int64_t j = i % w, t = (i / w) % T, b = i / (w * T);
    x0[i] = t < P ? patch_rows[(b * P + t) * w + j] + pos[t * w + j] : text_rows[(b * L + t - P) * w + j];
  }
}

__global__ void gather_prompt_kernel(const float* prompt, const int32_t* emb, float* x0, int64_t B, int64_t Kw) {
  GRID_STRIDE(i, B * Kw) x0[i] = prompt[static_cast<int64_t>(emb[i / Kw]) * Kw + i % Kw];
}

// One thread per element of the prompt table, summing the samples of its embodiment in b order.
__global__ void scatter_prompt_kernel(const float* dx0, const int32_t* emb, float* dprompt, int64_t B, int64_t E,
                                      int64_t Kw) {
  GRID_STRIDE(i, E * Kw) {
    const int64_t e = i / Kw, j = i % Kw;
    float s = 0.0f;
    bool any = false;
    for (int64_t b = 0; b < B; ++b)
      if (emb[b] == e) {
        s += dx0[b * Kw + j];
        any = true;
      }
    if (any) dprompt[i] += s;
  }
}

__global__ void time_rows_kernel(const float* proj, const float* t, int64_t per_sample, float* cat, int64_t rows,
                                 int64_t w, double min_period, double max_period) {
  const int64_t half = w / 2;
  GRID_STRIDE(i, rows * w) {
    const int64_t r = i / w, j = i % w;
    cat[r * 2 * w + j] = proj[i];
    const int64_t f = j < half ? j : j - half;
    const double frac = half > 1 ? static_cast<double>(f) / static_cast<double>(half - 1) : 0.0;
    const double period = min_period * pow(max_period / min_period, frac);
    const double arg = 2.0 * 3.14159265358979323846 * static_cast<double>(t[r / per_sample]) / period;
    cat[r * 2 * w + w + j] = static_cast<float>(j < half ? sin(arg) : cos(arg));
  }
}

__global__ void split_time_rows_kernel(const float* dcat, float* dproj, int64_t rows, int64_t w) {
  GRID_STRIDE(i, rows * w) dproj[i] = dcat[(i / w) * 2 * w + i % w];
}

__global__ void axpy_kernel(float* x, float a, const float* y, int64_t n) {
  GRID_STRIDE(i, n) x[i] += a * y[i];
}

#undef GRID_STRIDE

}  // namespace


void patchify(const uint8_t* images, float* patches, int64_t B, int64_t F, int64_t S, int64_t ps) {
  VLA_LAUNCH_OVER(patchify_kernel, B * F * S * S * 3, kThreads, images, patches, B, F, S, ps);
}

void assemble_observation_rows(const float* patch_rows, const float* pos, const float* text_rows, float* x0,
                               int64_t B, int64_t P, int64_t L, int64_t w) {
  VLA_LAUNCH_OVER(assemble_obs_kernel, B * (P + L) * w, kThreads, patch_rows, pos, text_rows, x0, B, P, L, w);
}

void gather_prompt_rows(const float* prompt, const int32_t* embodiment, float* x0, int64_t B, int64_t K, int64_t w) {
  VLA_LAUNCH_OVER(gather_prompt_kernel, B * K * w, kThreads, prompt, embodiment, x0, B, K * w);
}

void scatter_prompt_rows(const float* dx0, const int32_t* embodiment, float* dprompt, int64_t B, int64_t E, int64_t K,
                         int64_t w) {
  VLA_LAUNCH_OVER(scatter_prompt_kernel, E * K * w, kThreads, dx0, embodiment, dprompt, B, E, K * w);
}

void time_feature_rows(const float* proj, const float* t, int64_t per_sample, float* cat, int64_t rows, int64_t w,
                       double min_period, double max_period) {
  VLA_LAUNCH_OVER(time_rows_kernel, rows * w, kThreads, proj, t, per_sample, cat, rows, w, min_period, max_period);
}

void split_time_feature_rows(const float* dcat, float* dproj, int64_t rows, int64_t w) {
  VLA_LAUNCH_OVER(split_time_rows_kernel, rows * w, kThreads, dcat, dproj, rows, w);
}

void axpy(float* x, float a, const float* y, int64_t n) { VLA_LAUNCH_OVER(axpy_kernel, n, kThreads, x, a, y, n); }


}  // namespace vla::VLA_CUDA_NS
