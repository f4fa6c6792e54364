// RMSNorm kernels (cuda/rmsnorm_cuda.h) against the CPU reference (ops/rmsnorm.h) on random
// inputs: fp32 relative error < 1e-4. Shapes cover warp-per-row (C <= 512) and block-per-row
// rows, widths that are not multiples of 32 or of the block, several blocks of rows, and every
// dw column-tile width (8, 16, 32 columns); the backward starts from nonzero gradients.
#include "cuda/rmsnorm_cuda.h"
#include "ops/rmsnorm.h"
#include "tests/cuda/cuda_test_support.h"

namespace vla::test {
namespace {

using gpu::testing::to_device;
using gpu::testing::to_host;

void check(const char* what, int64_t M, int64_t C, const std::vector<float>& device, const std::vector<float>& ref) {
  double e = max_rel_error(device, ref);
  VLA_EXPECT(e < 1e-4) << what << " (M " << M << ", C " << C << "): relative error " << e;
}

void run_rmsnorm(int64_t M, int64_t C, uint64_t seed) {
  const float eps = 1e-6f;
  auto x = random_floats(M * C, seed, 1.5);
  auto w = random_floats(C, seed + 1);
  auto dy = random_floats(M * C, seed + 2);
  auto dx0 = random_floats(M * C, seed + 3);  // the backward accumulates: start from nonzero gradients
  auto dw0 = random_floats(C, seed + 4);

  std::vector<float> y(M * C), rstd(M);
  rmsnorm_forward(x.data(), w.data(), eps, y.data(), rstd.data(), M, C);
  auto d_x = to_device(x), d_w = to_device(w), d_dy = to_device(dy);
  gpu::DeviceBuffer d_y(M * C * sizeof(float)), d_rstd(M * sizeof(float));
  gpu::rmsnorm_forward(d_x.as<float>(), d_w.as<float>(), eps, d_y.as<float>(), d_rstd.as<float>(), M, C);
  check("forward y", M, C, to_host<float>(d_y, M * C), y);
  check("forward rstd", M, C, to_host<float>(d_rstd, M), rstd);

  std::vector<float> dx = dx0, dw = dw0;
  rmsnorm_backward(dy.data(), x.data(), w.data(), rstd.data(), dx.data(), dw.data(), M, C);
  auto d_dx = to_device(dx0), d_dw = to_device(dw0);
  gpu::rmsnorm_backward(d_dy.as<float>(), d_x.as<float>(), d_w.as<float>(), d_rstd.as<float>(), d_dx.as<float>(),
                        d_dw.as<float>(), M, C);
  check("backward dx", M, C, to_host<float>(d_dx, M * C), dx);
  check("backward dw", M, C, to_host<float>(d_dw, C), dw);
}

VLA_CUDA_TEST(rmsnorm) {
  VLA_REQUIRE_CUDA_DEVICE();
  run_rmsnorm(37, 67, 10);   // warp per row, 5 blocks of 8 rows; dw: 8-column tiles
  run_rmsnorm(1, 512, 20);   // widest warp row, a single row
  run_rmsnorm(19, 700, 30);  // block per row, 700 = 2 * 256 + 188 columns per thread stride
  run_rmsnorm(5, 2100, 40);  // dw: 16-column tiles, a partial last tile
  run_rmsnorm(3, 4099, 50);  // dw: 32-column tiles
  run_rmsnorm(70, 33, 60);   // dw: more rows than the 32 row lanes
}

}  // namespace
}  // namespace vla::test
