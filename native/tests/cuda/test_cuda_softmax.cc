// Softmax kernels (cuda/softmax_cuda.h) against the CPU reference (ops/softmax.h) on random
// inputs: fp32 relative error < 1e-4. Shapes cover warp-per-row (N <= 512) and block-per-row
// rows, odd widths, a width of 1, rows far from 0 (the max shift), and N = 0 (nothing written);
// the backward starts from nonzero gradients.
#include "cuda/softmax_cuda.h"
#include "ops/softmax.h"
#include "tests/cuda/cuda_test_support.h"

namespace vla::test {
namespace {

using gpu::testing::to_device;
using gpu::testing::to_host;

void check(const char* what, int64_t M, int64_t N, const std::vector<float>& device, const std::vector<float>& ref) {
  double e = max_rel_error(device, ref);
  VLA_EXPECT(e < 1e-4) << what << " (M " << M << ", N " << N << "): relative error " << e;
}

void run_softmax(int64_t M, int64_t N, uint64_t seed, float offset) {
  auto x = random_floats(M * N, seed, 3.0);
  for (int64_t r = 0; r < M; ++r)  // alternate rows shifted far from 0
    for (int64_t j = 0; j < N; ++j) x[r * N + j] += (r % 2) ? offset : 0.0f;
  auto dy = random_floats(M * N, seed + 1);
  auto dx0 = random_floats(M * N, seed + 2);

  std::vector<float> y(M * N);
  softmax_forward(x.data(), y.data(), M, N);
  auto d_x = to_device(x), d_dy = to_device(dy);
  gpu::DeviceBuffer d_y(M * N * sizeof(float));
  gpu::softmax_forward(d_x.as<float>(), d_y.as<float>(), M, N);
  check("forward", M, N, to_host<float>(d_y, M * N), y);

  std::vector<float> dx = dx0;
  softmax_backward(y.data(), dy.data(), dx.data(), M, N);
  auto d_dx = to_device(dx0);
  gpu::softmax_backward(d_y.as<float>(), d_dy.as<float>(), d_dx.as<float>(), M, N);
  check("backward", M, N, to_host<float>(d_dx, M * N), dx);
}

VLA_CUDA_TEST(softmax) {
  VLA_REQUIRE_CUDA_DEVICE();
  run_softmax(41, 77, 10, 60.0f);    // warp per row, 6 blocks of 8 rows
  run_softmax(3, 1, 20, -80.0f);     // one entry per row: y = 1
  run_softmax(2, 512, 30, 100.0f);   // widest warp row
  run_softmax(9, 1000, 40, -50.0f);  // block per row, a partial last stride
  run_softmax(1, 2049, 50, 0.0f);

  // N = 0: nothing to compute and nothing written.
  gpu::DeviceBuffer d_x(4 * sizeof(float)), d_y(4 * sizeof(float));
  std::vector<float> marker = {1, 2, 3, 4};
  d_y.upload(marker.data(), 4 * sizeof(float));
  gpu::softmax_forward(d_x.as<float>(), d_y.as<float>(), 4, 0);
  gpu::softmax_backward(d_x.as<float>(), d_x.as<float>(), d_y.as<float>(), 4, 0);
  VLA_EXPECT(to_host<float>(d_y, 4) == marker) << "N = 0 wrote to its output";
}

}  // namespace
}  // namespace vla::test
