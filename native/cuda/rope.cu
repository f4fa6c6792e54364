#include "cuda/dialect.h"

#include <cmath>

#include "cuda/cuda_check.h"
#include "cuda/kernel_utils.h"
#include "cuda/rope_cuda.h"

namespace vla::VLA_CUDA_NS {

namespace {

constexpr int kThreads = 256;

// Rotates every (row, head) of `in` by its position's angles into `out` (direction +1 forward,
// -1 backward; accumulate adds instead of writing). log2_step = -2 log2(theta) / D, so that
// inv_freq[i] = exp2(i * log2_step) = theta^(-2i/D).
__global__ void rope_kernel(const float* in, const int32_t* positions, double log2_step, float* out, int64_t rows,
                            int64_t S, int64_t H, int64_t D, bool per_batch, float direction, bool accumulate) {
  const int64_t half = D / 2;
  const int64_t total = rows * half;
  for (int64_t idx = grid_index(); idx < total; idx += grid_stride()) {
    const int64_t r = idx / half, i = idx % half;
    const int32_t pos = positions[per_batch ? r : r % S];
    const double angle = static_cast<double>(pos) * exp2(static_cast<double>(i) * log2_step);
    const float c = static_cast<float>(cos(angle));
    const float sn = direction * static_cast<float>(sin(angle));
    const float* x1 = in + r * H * D + i;
    float* y1 = out + r * H * D + i;
    for (int64_t h = 0; h < H; ++h, x1 += D, y1 += D) {
      const float a = x1[0], b = x1[half];
      const float u = a * c - b * sn, v = b * c + a * sn;
      if (accumulate) {
        y1[0] += u;
        y1[half] += v;
      } else {
        y1[0] = u;
        y1[half] = v;
      }
    }
  }
}

void rotate(const float* in, const int32_t* positions, double theta, float* out, const RopeShape& s,
            float direction, bool accumulate) {
  const int64_t rows = s.B * s.S, half = s.D / 2;
  if (rows <= 0 || s.H <= 0 || half <= 0) return;
  const double log2_step = -2.0 * std::log2(theta) / static_cast<double>(s.D);
  VLA_LAUNCH(rope_kernel, blocks_for(rows * half, kThreads), kThreads, 0, in, positions, log2_step, out, rows, s.S,
             s.H, s.D, s.positions_per_batch, direction, accumulate);
  VLA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void rope_forward(const float* x, const int32_t* positions, double theta, float* y, const RopeShape& s) {
  rotate(x, positions, theta, y, s, 1.0f, false);
}

void rope_backward(const float* dy, const int32_t* positions, double theta, float* dx, const RopeShape& s) {
  rotate(dy, positions, theta, dx, s, -1.0f, true);
}

}  // namespace vla::VLA_CUDA_NS
