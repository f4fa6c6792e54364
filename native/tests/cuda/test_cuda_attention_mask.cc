// build_block_mask (cuda/attention_mask_cuda.h) against the CPU reference (ops/attention_mask.h):
// shared and per-batch segment ids on either side, rows longer than a block. Exact equality.
#include "cuda/attention_mask_cuda.h"
#include "ops/attention_mask.h"
#include "tests/cuda/cuda_test_support.h"

namespace vla::test {
namespace {

using gpu::testing::to_device;
using gpu::testing::to_host;

VLA_CUDA_TEST(build_block_mask) {
  VLA_REQUIRE_CUDA_DEVICE();
  const int64_t S = 4;
  Rng rng(7);
  std::vector<uint8_t> allow(S * S);
  for (auto& a : allow) a = rng.uniform() < 0.5 ? 1 : 0;
  auto d_allow = to_device(allow);
  for (int64_t Bm : {1, 3})
    for (int per_batch = 0; per_batch < 4; ++per_batch) {
      BlockMaskShape s;
      s.Bm = Bm, s.Tq = 37, s.Tk = 300, s.S = S;
      s.query_per_batch = per_batch & 1;
      s.key_per_batch = (per_batch & 2) != 0;
      std::vector<int32_t> qs((s.query_per_batch ? Bm : 1) * s.Tq), ks((s.key_per_batch ? Bm : 1) * s.Tk);
      for (auto& x : qs) x = static_cast<int32_t>(rng.uniform() * S);
      for (auto& x : ks) x = static_cast<int32_t>(rng.uniform() * S);
      const int64_t n = Bm * s.Tq * s.Tk;
      std::vector<uint8_t> ref(n);
      build_block_mask(qs.data(), ks.data(), allow.data(), ref.data(), s);
      auto d_qs = to_device(qs), d_ks = to_device(ks);
      gpu::DeviceBuffer d_mask(n);
      gpu::build_block_mask(d_qs.as<int32_t>(), d_ks.as<int32_t>(), d_allow.as<uint8_t>(), d_mask.as<uint8_t>(), s);
      const auto got = to_host<uint8_t>(d_mask, n);
      int64_t wrong = 0;
      for (int64_t i = 0; i < n; ++i) wrong += got[i] != ref[i];
      VLA_EXPECT(wrong == 0) << "Bm " << Bm << " query_per_batch " << s.query_per_batch << " key_per_batch "
                             << s.key_per_batch << ": " << wrong << " entries differ";
    }
}

}  // namespace
}  // namespace vla::test
