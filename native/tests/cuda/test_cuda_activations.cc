// Activation kernels (cuda/activations_cuda.h) against the CPU reference (ops/activations.h) on
// random inputs: fp32 relative error < 1e-4.
#include "cuda/activations_cuda.h"
#include "ops/activations.h"
#include "tests/cuda/cuda_test_support.h"

namespace vla::test {
namespace {

using gpu::testing::to_device;
using gpu::testing::to_host;

VLA_CUDA_TEST(activations) {
  VLA_REQUIRE_CUDA_DEVICE();
  const int64_t M = 37, F = 515, n = M * 2 * F;
  auto x = random_floats(n, 1, 2.0);
  auto dy_full = random_floats(n, 2);
  auto dy_half = random_floats(M * F, 3);
  auto dx0 = random_floats(n, 4);  // backward accumulates: start from nonzero gradients
  auto d_x = to_device(x), d_dyf = to_device(dy_full), d_dyh = to_device(dy_half);

  auto check = [&](const char* what, const std::vector<float>& device, const std::vector<float>& reference) {
    double e = max_rel_error(device, reference);
    VLA_EXPECT(e < 1e-4) << what << ": relative error " << e;
  };

  std::vector<float> ref(n), ref_half(M * F);
  gpu::DeviceBuffer out(n * sizeof(float));

  silu_forward(x.data(), ref.data(), n);
  gpu::silu_forward(d_x.as<float>(), out.as<float>(), n);
  check("silu forward", to_host<float>(out, n), ref);

  ref = dx0;
  silu_backward(dy_full.data(), x.data(), ref.data(), n);
  out.upload(dx0.data(), n * sizeof(float));
  gpu::silu_backward(d_dyf.as<float>(), d_x.as<float>(), out.as<float>(), n);
  check("silu backward", to_host<float>(out, n), ref);

  gelu_tanh_forward(x.data(), ref.data(), n);
  gpu::gelu_tanh_forward(d_x.as<float>(), out.as<float>(), n);
  check("gelu forward", to_host<float>(out, n), ref);

  ref = dx0;
  gelu_tanh_backward(dy_full.data(), x.data(), ref.data(), n);
  out.upload(dx0.data(), n * sizeof(float));
  gpu::gelu_tanh_backward(d_dyf.as<float>(), d_x.as<float>(), out.as<float>(), n);
  check("gelu backward", to_host<float>(out, n), ref);

  geglu_forward(x.data(), ref_half.data(), M, F);
  gpu::geglu_forward(d_x.as<float>(), out.as<float>(), M, F);
  check("geglu forward", to_host<float>(out, M * F), ref_half);

  ref = dx0;
  geglu_backward(dy_half.data(), x.data(), ref.data(), M, F);
  out.upload(dx0.data(), n * sizeof(float));
  gpu::geglu_backward(d_dyh.as<float>(), d_x.as<float>(), out.as<float>(), M, F);
  check("geglu backward", to_host<float>(out, n), ref);
}

}  // namespace
}  // namespace vla::test
