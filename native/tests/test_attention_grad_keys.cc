// attention_backward with grad_key_begin: dq is unchanged, dk/dv rows from grad_key_begin on are
// identical to the full backward, and earlier rows are left untouched.
#include <cmath>
#include <vector>

#include "core/random.h"
#include "ops/attention.h"
#include "tests/test_framework.h"

namespace vla::test {

VLA_TEST(attention, grad_key_begin_skips_only_the_leading_keys) {
  const int64_t B = 2, Tq = 5, Tk = 23, Hq = 4, Hkv = 2, D = 16;
  Rng r(21);
  auto fill = [&](int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = static_cast<float>(r.normal());
    return v;
  };
  auto q = fill(B * Tq * Hq * D), k = fill(B * Tk * Hkv * D), v = fill(B * Tk * Hkv * D), dout = fill(B * Tq * Hq * D);
  std::vector<uint8_t> mask(static_cast<size_t>(B * Tq * Tk), 1);
  for (size_t i = 0; i < mask.size(); i += 7) mask[i] = 0;
  std::vector<float> out(q.size()), probs(static_cast<size_t>(B * Hq * Tq * Tk));
  AttentionShape s{B, Tq, Tk, Hq, Hkv, D, true};
  attention_forward<float>(q.data(), k.data(), v.data(), mask.data(), 0.25f, out.data(), probs.data(), s);
  for (int64_t begin : {0, 1, 9, 22, 23}) {
    std::vector<float> dq_full(q.size()), dk_full(k.size()), dv_full(v.size());
    attention_backward<float>(q.data(), k.data(), v.data(), probs.data(), dout.data(), 0.25f, dq_full.data(), dk_full.data(),
                              dv_full.data(), s);
    std::vector<float> dq(q.size()), dk(k.size(), 7.0f), dv(v.size(), 7.0f);
    // Rows at and after `begin` start from zero like the full run; earlier rows hold a sentinel.
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = begin; j < Tk; ++j)
        for (int64_t x = 0; x < Hkv * D; ++x) dk[(b * Tk + j) * Hkv * D + x] = dv[(b * Tk + j) * Hkv * D + x] = 0.0f;
    AttentionShape sb = s;
    sb.grad_key_begin = begin;
    attention_backward<float>(q.data(), k.data(), v.data(), probs.data(), dout.data(), 0.25f, dq.data(), dk.data(), dv.data(), sb);
    VLA_EXPECT(dq == dq_full) << "begin" << begin;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < Tk; ++j)
        for (int64_t x = 0; x < Hkv * D; ++x) {
          size_t i = static_cast<size_t>((b * Tk + j) * Hkv * D + x);
          if (j < begin) {
            VLA_EXPECT(dk[i] == 7.0f && dv[i] == 7.0f) << "row" << j << "touched with begin" << begin;
          } else {
            VLA_EXPECT(dk[i] == dk_full[i] && dv[i] == dv_full[i]) << "row" << j << "begin" << begin;
          }
        }
  }
}

}  // namespace vla::test
