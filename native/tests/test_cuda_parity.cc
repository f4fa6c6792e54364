// CUDA kernels against the CPU reference on random inputs (fp32 relative error < 1e-4).
// Skips, saying why, when the build has no CUDA or the machine no usable device.
#include <cmath>
#include <vector>

#include "core/build_info.h"
#include "core/random.h"
#include "ops/activations.h"
#include "tests/test_framework.h"

#ifdef VLA_HAVE_CUDA
#include "cuda/activations_cuda.h"
#include "cuda/device_buffer.h"
#endif

namespace vla::test {

namespace {
#ifdef VLA_HAVE_CUDA
void require_device() {
  CudaStatus s = cuda_status();
  if (!s.available) VLA_SKIP(s.reason);
}

std::vector<float> random_vector(int64_t n, uint64_t seed, float scale) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(scale * rng.normal());
  return v;
}

double max_rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  double scale = 1e-3, worst = 0;
  for (float x : b) scale = std::max(scale, static_cast<double>(std::fabs(x)));
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, static_cast<double>(std::fabs(a[i] - b[i])));
  return worst / scale;
}

// Runs a device function on uploaded copies of `inputs` and returns the downloaded output.
template <typename F>
std::vector<float> on_device(const std::vector<std::vector<float>>& inputs, int64_t out_n, F&& f) {
  std::vector<cuda::DeviceBuffer> bufs;
  for (const auto& in : inputs) {
    bufs.emplace_back(in.size() * sizeof(float));
    bufs.back().upload(in.data(), in.size() * sizeof(float));
  }
  cuda::DeviceBuffer out(out_n * sizeof(float));
  std::vector<float> zeros(static_cast<size_t>(out_n), 0.0f);
  out.upload(zeros.data(), zeros.size() * sizeof(float));
  f(bufs, out.as<float>());
  cuda::synchronize();
  std::vector<float> host(static_cast<size_t>(out_n));
  out.download(host.data(), host.size() * sizeof(float));
  return host;
}
#endif
}  // namespace

VLA_TEST(cuda_parity, activations) {
#ifndef VLA_HAVE_CUDA
  VLA_SKIP("this build has no CUDA backend (" + build_info().cuda + ")");
#else
  require_device();
  const int64_t M = 37, F = 515, n = M * 2 * F;
  auto x = random_vector(n, 1, 2.0f);
  auto dyn = random_vector(n, 2, 1.0f);
  auto dyh = random_vector(M * F, 3, 1.0f);
  std::vector<float> cpu(n), cpu_h(M * F);

  silu_forward(x.data(), cpu.data(), n);
  auto gpu = on_device({x}, n, [&](auto& b, float* o) { cuda::silu_forward(b[0].template as<float>(), o, n); });
  VLA_EXPECT(max_rel_error(gpu, cpu) < 1e-4) << "silu forward" << max_rel_error(gpu, cpu);

  std::fill(cpu.begin(), cpu.end(), 0.0f);
  silu_backward(dyn.data(), x.data(), cpu.data(), n);
  gpu = on_device({dyn, x}, n, [&](auto& b, float* o) { cuda::silu_backward(b[0].template as<float>(), b[1].template as<float>(), o, n); });
  VLA_EXPECT(max_rel_error(gpu, cpu) < 1e-4) << "silu backward" << max_rel_error(gpu, cpu);

  gelu_tanh_forward(x.data(), cpu.data(), n);
  gpu = on_device({x}, n, [&](auto& b, float* o) { cuda::gelu_tanh_forward(b[0].template as<float>(), o, n); });
  VLA_EXPECT(max_rel_error(gpu, cpu) < 1e-4) << "gelu forward" << max_rel_error(gpu, cpu);

  std::fill(cpu.begin(), cpu.end(), 0.0f);
  gelu_tanh_backward(dyn.data(), x.data(), cpu.data(), n);
  gpu = on_device({dyn, x}, n, [&](auto& b, float* o) { cuda::gelu_tanh_backward(b[0].template as<float>(), b[1].template as<float>(), o, n); });
  VLA_EXPECT(max_rel_error(gpu, cpu) < 1e-4) << "gelu backward" << max_rel_error(gpu, cpu);

  geglu_forward(x.data(), cpu_h.data(), M, F);
  gpu = on_device({x}, M * F, [&](auto& b, float* o) { cuda::geglu_forward(b[0].template as<float>(), o, M, F); });
  VLA_EXPECT(max_rel_error(gpu, cpu_h) < 1e-4) << "geglu forward" << max_rel_error(gpu, cpu_h);

  std::fill(cpu.begin(), cpu.end(), 0.0f);
  geglu_backward(dyh.data(), x.data(), cpu.data(), M, F);
  gpu = on_device({dyh, x}, n, [&](auto& b, float* o) { cuda::geglu_backward(b[0].template as<float>(), b[1].template as<float>(), o, M, F); });
  VLA_EXPECT(max_rel_error(gpu, cpu) < 1e-4) << "geglu backward" << max_rel_error(gpu, cpu);
#endif
}

}  // namespace vla::test
