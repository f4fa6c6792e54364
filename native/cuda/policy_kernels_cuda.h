// Small kernels of the policy's embeddings and sampling loop on the device (model/policy.cc's
// host loops, same formulas). Device pointers; float unless stated.
#pragma once

#include <cstdint>

#include "cuda/namespace.h"

namespace vla::VLA_CUDA_NS {

// images uint8 [B, F, S, S, 3] (RGB, row 0 at the top) -> patches [B * F * G * G, ps * ps * 3],
// G = S / ps, rows ordered (b, frame, gy, gx), each patch (dy, dx, channel); value / 127.5 - 1.
void patchify(const uint8_t* images, float* patches, int64_t B, int64_t F, int64_t S, int64_t ps);

// The observation rows x0 [B, P + L, w]: row i < P is patch_rows[b * P + i] + pos[i], row P + j
// is text_rows[b * L + j].
void assemble_observation_rows(const float* patch_rows, const float* pos, const float* text_rows, float* x0,
                               int64_t B, int64_t P, int64_t L, int64_t w);

// The prompt rows x0 [B, K, w] = prompt[embodiment[b]] (prompt [E, K, w]; embodiment int32 [B],
// validated by the caller).
void gather_prompt_rows(const float* prompt, const int32_t* embodiment, float* x0, int64_t B, int64_t K, int64_t w);
// The backward: dprompt[embodiment[b]] += dx0[b] (samples of one embodiment summed in b order).
void scatter_prompt_rows(const float* dx0, const int32_t* embodiment, float* dprompt, int64_t B, int64_t E, int64_t K,
                         int64_t w);

// cat [rows, 2w] = [proj[r] | time features of t[r / per_sample]], the pi0 sinusoid (w even):
// for i < w/2, period = min_period * (max_period / min_period)^(i / (w/2 - 1)),
// features = [sin(2 pi t / period) | cos(2 pi t / period)], computed in double.
void time_feature_rows(const float* proj, const float* t, int64_t per_sample, float* cat, int64_t rows, int64_t w,
                       double min_period, double max_period);
// The backward's gradient of proj from that of cat: dproj[r] = dcat[r, :w] (written).
void split_time_feature_rows(const float* dcat, float* dproj, int64_t rows, int64_t w);

// x[i] += a * y[i].
void axpy(float* x, float a, const float* y, int64_t n);

}  // namespace vla::VLA_CUDA_NS
