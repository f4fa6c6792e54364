#include "cuda/dialect.h"

#include "cuda/cuda_check.h"
#include "cuda/kernel_utils.h"
#include "cuda/rmsnorm_cuda.h"

namespace vla::VLA_CUDA_NS {

namespace {

constexpr int kThreads = 256;

template <bool kBlock>
__global__ void rms_fwd_kernel(const float* x, const float* w, float eps, float* y, float* rstd, int64_t M,
                               int64_t C) {
  __shared__ float red[32];
  const RowGroup<kBlock> g;
  for (int64_t r = g.first; r < M; r += g.stride) {  // uniform over the group
    const float* xr = x + r * C;
    float acc = 0.0f;
    for (int64_t c = g.lane; c < C; c += g.width) acc += xr[c] * xr[c];
    const float s = 1.0f / sqrtf(group_sum<kBlock>(acc, red) / static_cast<float>(C) + eps);
    if (g.lane == 0) rstd[r] = s;
    float* yr = y + r * C;
    for (int64_t c = g.lane; c < C; c += g.width) yr[c] = xr[c] * s * w[c];
  }
}

template <bool kBlock>
__global__ void rms_bwd_dx_kernel(const float* dy, const float* x, const float* w, const float* rstd, float* dx,
                                  int64_t M, int64_t C) {
  __shared__ float red[32];
  const RowGroup<kBlock> g;
  for (int64_t r = g.first; r < M; r += g.stride) {
    const float* xr = x + r * C;
    const float* dyr = dy + r * C;
    float acc = 0.0f;
    for (int64_t c = g.lane; c < C; c += g.width) acc += w[c] * dyr[c] * xr[c];
    const float s = rstd[r];
    const float k = group_sum<kBlock>(acc, red) * s * s * s / static_cast<float>(C);
    float* dxr = dx + r * C;
    for (int64_t c = g.lane; c < C; c += g.width) dxr[c] += s * (w[c] * dyr[c]) - k * xr[c];
  }
}

// dw[c] += sum_r dy[r, c] x[r, c] rstd[r]. A 256-thread block owns kCols columns at a time
// (thread t: column t % kCols, row lane t / kCols of kRows); lanes sum rows lane, lane + kRows,
// ..., then thread row 0 adds the kRows lane sums in order.
template <int kCols>
__global__ void rms_bwd_dw_kernel(const float* dy, const float* x, const float* rstd, float* dw, int64_t M,
                                  int64_t C) {
  constexpr int kRows = kThreads / kCols;
  __shared__ float part[kRows][kCols];
  const int tx = threadIdx.x % kCols, ty = threadIdx.x / kCols;
  for (int64_t base = int64_t(blockIdx.x) * kCols; base < C; base += int64_t(gridDim.x) * kCols) {  // uniform
    const int64_t c = base + tx;
    float acc = 0.0f;
    if (c < C)
      for (int64_t r = ty; r < M; r += kRows) acc += dy[r * C + c] * x[r * C + c] * rstd[r];
    part[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && c < C) {
      float total = 0.0f;
      for (int j = 0; j < kRows; ++j) total += part[j][tx];
      dw[c] += total;
    }
    __syncthreads();
  }
}

template <int kCols>
void launch_dw(const float* dy, const float* x, const float* rstd, float* dw, int64_t M, int64_t C) {
  const int64_t tiles = (C + kCols - 1) / kCols;
  auto k = rms_bwd_dw_kernel<kCols>;
  VLA_LAUNCH(k, capped(tiles, kMaxBlocks), kThreads, 0, dy, x, rstd, dw, M, C);
  VLA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void rmsnorm_forward(const float* x, const float* w, float eps, float* y, float* rstd, int64_t M, int64_t C) {
  if (M <= 0) return;
  auto k = C <= kWarpRowMax ? rms_fwd_kernel<false> : rms_fwd_kernel<true>;
  VLA_LAUNCH(k, row_group_blocks(M, C, kThreads), kThreads, 0, x, w, eps, y, rstd, M, C);
  VLA_CUDA_CHECK(cudaGetLastError());
}

void rmsnorm_backward(const float* dy, const float* x, const float* w, const float* rstd, float* dx, float* dw,
                      int64_t M, int64_t C) {
  if (M <= 0 || C <= 0) return;
  auto k = C <= kWarpRowMax ? rms_bwd_dx_kernel<false> : rms_bwd_dx_kernel<true>;
  VLA_LAUNCH(k, row_group_blocks(M, C, kThreads), kThreads, 0, dy, x, w, rstd, dx, M, C);
  VLA_CUDA_CHECK(cudaGetLastError());
  // The widest column tile (longer contiguous loads per warp) that still gives >= 128 blocks;
  // narrow C takes 8-column tiles (one 32-byte sector per row).
  if (C >= 32 * 128)
    launch_dw<32>(dy, x, rstd, dw, M, C);
  else if (C >= 16 * 128)
    launch_dw<16>(dy, x, rstd, dw, M, C);
  else
    launch_dw<8>(dy, x, rstd, dw, M, C);
}

}  // namespace vla::VLA_CUDA_NS
