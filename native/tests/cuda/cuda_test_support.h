// What the CUDA kernel tests share. Each file in native/tests/cuda/ is compiled twice: against
// the device build (tests "cuda.*", only in CUDA builds; they skip, saying why, on a machine
// without a usable device) and against the CPU emulator (tests "cuda_emulated.*", in every
// build, so CI checks the kernels' logic without a GPU). `gpu::` names the backend of the build
// at hand (vla::cuda or vla::cuda_emu).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/build_info.h"
#include "core/random.h"
#include "cuda/device_buffer.h"
#include "cuda/namespace.h"
#include "tests/test_framework.h"

#define VLA_TEST_EXPANDED(group, name) VLA_TEST(group, name)
#if defined(VLA_CUDA_EMULATION)
#define VLA_CUDA_TEST(name) VLA_TEST_EXPANDED(cuda_emulated, name)
#define VLA_REQUIRE_CUDA_DEVICE() ((void)0)
#else
#define VLA_CUDA_TEST(name) VLA_TEST_EXPANDED(cuda, name)
#define VLA_REQUIRE_CUDA_DEVICE()                               \
  do {                                                          \
    ::vla::CudaStatus vla_status_ = ::vla::cuda_status();       \
    if (!vla_status_.available) VLA_SKIP(vla_status_.reason);   \
  } while (0)
#endif

namespace vla::test {

namespace gpu = ::vla::VLA_CUDA_NS;

inline std::vector<float> random_floats(int64_t n, uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(scale * rng.normal());
  return v;
}

// max |a - b| / max(1e-3, max |b|): the parity measure (b is the CPU reference).
inline double max_rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  double scale = 1e-3, worst = 0;
  for (float x : b) scale = std::max(scale, static_cast<double>(std::fabs(x)));
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    double d = std::fabs(static_cast<double>(a[i]) - b[i]);
    worst = std::max(worst, std::isnan(d) ? INFINITY : d);
  }
  return a.size() == b.size() ? worst / scale : INFINITY;
}

}  // namespace vla::test

namespace vla::VLA_CUDA_NS::testing {

// A device copy of a host vector.
template <typename T>
DeviceBuffer to_device(const std::vector<T>& host) {
  DeviceBuffer b(host.size() * sizeof(T));
  b.upload(host.data(), host.size() * sizeof(T));
  return b;
}

// The first n elements of a device buffer, after waiting for the device.
template <typename T>
std::vector<T> to_host(const DeviceBuffer& b, size_t n) {
  synchronize();
  std::vector<T> host(n);
  b.download(host.data(), n * sizeof(T));
  return host;
}

}  // namespace vla::VLA_CUDA_NS::testing
