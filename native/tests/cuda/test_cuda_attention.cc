// Attention kernels (cuda/attention_cuda.h) against the CPU reference (ops/attention.h) on random
// inputs: GQA/MQA head groups, shared / per-batch / no mask, fully blocked query rows, Tq != Tk,
// key chunks blocked for whole tiles (skipped work), head dims 32..300, grad_key_begin, and the
// accumulate convention of the backward. fp32 relative error < 1e-4.
#include <cmath>
#include <cstdio>
#include <cstring>

#include "cuda/attention_cuda.h"
#include "ops/attention.h"
#include "tests/cuda/cuda_test_support.h"

namespace vla::test {
namespace {

using gpu::testing::to_device;
using gpu::testing::to_host;

enum MaskKind { kNoMask, kSharedMask, kPerBatchMask, kPrefixMask };

struct Case {
  const char* name;
  int64_t B, Tq, Tk, Hq, Hkv, D;
  MaskKind mask;
  int64_t grad_key_begin;
};

// Random 0/1 entries (30% blocked), query row 1 of every mask batch fully blocked. kPrefixMask:
// pi0-like per batch, the first `prefix` queries attend keys [0, prefix) only, later queries
// attend keys [0, i + b], with 20% of those allowed entries blocked at random.
std::vector<uint8_t> make_mask(const Case& c, uint64_t seed) {
  const int64_t mb = c.mask == kSharedMask ? 1 : c.B;
  std::vector<uint8_t> m(static_cast<size_t>(mb * c.Tq * c.Tk));
  Rng rng(seed);
  const int64_t prefix = c.Tq / 2;
  for (int64_t b = 0; b < mb; ++b)
    for (int64_t i = 0; i < c.Tq; ++i)
      for (int64_t j = 0; j < c.Tk; ++j) {
        bool allowed;
        if (c.mask == kPrefixMask)
          allowed = (i < prefix ? j < prefix : j <= i + b) && rng.uniform() >= 0.2;
        else
          allowed = rng.uniform() >= 0.3;
        if (i == 1) allowed = false;
        m[(b * c.Tq + i) * c.Tk + j] = allowed ? 1 : 0;
      }
  return m;
}

// max relative error of the increments (device - start) against (reference - start).
double increment_error(const std::vector<float>& device, const std::vector<float>& reference,
                       const std::vector<float>& start) {
  std::vector<float> a(device.size()), b(reference.size());
  for (size_t i = 0; i < a.size(); ++i) a[i] = device[i] - start[i];
  for (size_t i = 0; i < b.size(); ++i) b[i] = reference[i] - start[i];
  return max_rel_error(a, b);
}

void run_case(const Case& c) {
  AttentionShape s;
  s.B = c.B, s.Tq = c.Tq, s.Tk = c.Tk, s.Hq = c.Hq, s.Hkv = c.Hkv, s.D = c.D;
  s.mask_per_batch = c.mask == kPerBatchMask || c.mask == kPrefixMask;
  s.grad_key_begin = c.grad_key_begin;
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.D));
  const int64_t nq = c.B * c.Tq * c.Hq * c.D, nkv = c.B * c.Tk * c.Hkv * c.D, np = c.B * c.Hq * c.Tq * c.Tk;
  auto q = random_floats(nq, 11), k = random_floats(nkv, 12), v = random_floats(nkv, 13);
  auto dout = random_floats(nq, 14);
  // The backward accumulates: start from nonzero gradients.
  auto dq0 = random_floats(nq, 15), dk0 = random_floats(nkv, 16), dv0 = random_floats(nkv, 17);
  std::vector<uint8_t> mask;
  if (c.mask != kNoMask) mask = make_mask(c, 18);
  const uint8_t* mask_ptr = mask.empty() ? nullptr : mask.data();

  auto d_q = to_device(q), d_k = to_device(k), d_v = to_device(v), d_dout = to_device(dout);
  auto d_mask = to_device(mask);
  const uint8_t* d_mask_ptr = mask.empty() ? nullptr : d_mask.as<uint8_t>();
  gpu::DeviceBuffer d_out(nq * sizeof(float)), d_probs(np * sizeof(float));
  auto d_dq = to_device(dq0), d_dk = to_device(dk0), d_dv = to_device(dv0);

  auto check = [&](const char* what, double e) {
    std::printf("    %s %s: max rel error %.3g\n", c.name, what, e);
    VLA_EXPECT(e < 1e-4) << c.name << " " << what << ": relative error " << e;
  };

  std::vector<float> out(nq), probs(np);
  attention_forward<float>(q.data(), k.data(), v.data(), mask_ptr, scale, out.data(), probs.data(), s);
  gpu::attention_forward(d_q.as<float>(), d_k.as<float>(), d_v.as<float>(), d_mask_ptr, scale, d_out.as<float>(),
                         d_probs.as<float>(), s);
  const auto g_out = to_host<float>(d_out, nq), g_probs = to_host<float>(d_probs, np);
  check("out", max_rel_error(g_out, out));
  check("probs", max_rel_error(g_probs, probs));
  // Blocked keys get exactly 0, as on the CPU (fully blocked rows: all zeros, out = 0).
  int64_t zero_mismatch = 0;
  for (int64_t i = 0; i < np; ++i) zero_mismatch += (probs[i] == 0.0f) != (g_probs[i] == 0.0f);
  VLA_EXPECT(zero_mismatch == 0) << c.name << ": " << zero_mismatch << " probs differ in being exactly 0";
  if (!mask.empty()) {
    int64_t nonzero = 0;
    for (int64_t b = 0; b < c.B; ++b)
      for (int64_t e = 0; e < c.Hq * c.D; ++e) nonzero += g_out[(b * c.Tq + 1) * c.Hq * c.D + e] != 0.0f;
    VLA_EXPECT(nonzero == 0) << c.name << ": " << nonzero << " out entries of fully blocked rows are not 0";
  }

  // Backward: each side from its own forward's probs (as the model runs it).
  auto dq = dq0, dk = dk0, dv = dv0;
  attention_backward<float>(q.data(), k.data(), v.data(), probs.data(), dout.data(), scale, dq.data(), dk.data(),
                            dv.data(), s);
  gpu::attention_backward(d_q.as<float>(), d_k.as<float>(), d_v.as<float>(), d_probs.as<float>(),
                          d_dout.as<float>(), scale, d_dq.as<float>(), d_dk.as<float>(), d_dv.as<float>(), s);
  const auto g_dq = to_host<float>(d_dq, nq), g_dk = to_host<float>(d_dk, nkv), g_dv = to_host<float>(d_dv, nkv);
  check("dq", max_rel_error(g_dq, dq));
  check("dk", max_rel_error(g_dk, dk));
  check("dv", max_rel_error(g_dv, dv));
  check("dq increment", increment_error(g_dq, dq, dq0));
  check("dk increment", increment_error(g_dk, dk, dk0));
  check("dv increment", increment_error(g_dv, dv, dv0));
  // Fully blocked query rows: no gradient at all; keys before grad_key_begin: rows untouched.
  if (!mask.empty()) {
    int64_t changed = 0;
    for (int64_t b = 0; b < c.B; ++b)
      for (int64_t e = 0; e < c.Hq * c.D; ++e) {
        const int64_t at = (b * c.Tq + 1) * c.Hq * c.D + e;
        changed += g_dq[at] != dq0[at];
      }
    VLA_EXPECT(changed == 0) << c.name << ": " << changed << " dq entries of fully blocked rows changed";
  }
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t j = 0; j < c.grad_key_begin && j < c.Tk; ++j) {
      const int64_t at = (b * c.Tk + j) * c.Hkv * c.D;
      const size_t bytes = static_cast<size_t>(c.Hkv * c.D) * sizeof(float);
      VLA_EXPECT(std::memcmp(&g_dk[at], &dk0[at], bytes) == 0 && std::memcmp(&g_dv[at], &dv0[at], bytes) == 0)
          << c.name << ": key " << j << " before grad_key_begin was written";
    }
}

VLA_CUDA_TEST(attention_gqa_shared_mask) {
  VLA_REQUIRE_CUDA_DEVICE();
  run_case({"gqa 4:2 shared mask D32", 2, 37, 150, 4, 2, 32, kSharedMask, 0});
}

VLA_CUDA_TEST(attention_mqa_suffix_per_batch_mask) {
  VLA_REQUIRE_CUDA_DEVICE();
  // act-like: 9 query rows against 90 keys, the first 81 cached (no dk/dv for them).
  run_case({"mqa 8:1 9x90 per-batch mask D64", 2, 9, 90, 8, 1, 64, kPerBatchMask, 81});
}

VLA_CUDA_TEST(attention_no_mask_odd_head_dim) {
  VLA_REQUIRE_CUDA_DEVICE();
  run_case({"mha 3:3 no mask D48", 1, 50, 50, 3, 3, 48, kNoMask, 0});
}

VLA_CUDA_TEST(attention_prefix_mask_skipped_chunks) {
  VLA_REQUIRE_CUDA_DEVICE();
  // Prefix rows never see keys >= 80: whole key chunks / row chunks are skipped.
  run_case({"gqa 4:2 prefix mask D64", 2, 160, 160, 4, 2, 64, kPrefixMask, 20});
}

VLA_CUDA_TEST(attention_head_dim_256) {
  VLA_REQUIRE_CUDA_DEVICE();
  run_case({"mqa 8:1 D256", 1, 6, 40, 8, 1, 256, kPerBatchMask, 0});
}

VLA_CUDA_TEST(attention_head_dim_300) {
  VLA_REQUIRE_CUDA_DEVICE();
  // Above 256: column blocks.
  run_case({"gqa 2:1 D300", 1, 5, 21, 2, 1, 300, kSharedMask, 3});
}

VLA_CUDA_TEST(attention_no_keys) {
  VLA_REQUIRE_CUDA_DEVICE();
  // Tk = 0: out = 0 (written), and the backward leaves the gradients alone.
  AttentionShape s;
  s.B = 2, s.Tq = 3, s.Tk = 0, s.Hq = 2, s.Hkv = 1, s.D = 8;
  const int64_t nq = s.B * s.Tq * s.Hq * s.D;
  auto q = random_floats(nq, 1), dq0 = random_floats(nq, 2);
  auto d_q = to_device(q), d_dq = to_device(dq0);
  gpu::DeviceBuffer d_out(nq * sizeof(float)), d_kv(sizeof(float)), d_probs(sizeof(float));
  gpu::attention_forward(d_q.as<float>(), d_kv.as<float>(), d_kv.as<float>(), nullptr, 0.5f, d_out.as<float>(),
                         d_probs.as<float>(), s);
  for (float x : to_host<float>(d_out, nq)) VLA_EXPECT(x == 0.0f) << "out with no keys: " << x;
  gpu::attention_backward(d_q.as<float>(), d_kv.as<float>(), d_kv.as<float>(), d_probs.as<float>(), d_q.as<float>(),
                          0.5f, d_dq.as<float>(), d_kv.as<float>(), d_kv.as<float>(), s);
  VLA_EXPECT(to_host<float>(d_dq, nq) == dq0) << "dq changed with no keys";
}

}  // namespace
}  // namespace vla::test
