// Registrations: rope, attention (with their backward ops) and block_mask.
#include <cmath>
#include <string>

#include "ops/attention.h"
#include "ops/attention_mask.h"
#include "ops/rope.h"
#include "registry/input_checks.h"
#include "registry/op_registry.h"

namespace vla {

namespace {

std::string dims(std::initializer_list<int64_t> d) { return Shape(d).str(); }

// ---------------------------------------------------------------------------------------------
// rope

// `tensor` ("x" or "dy") is [B, S, H, D] with D even; positions is [B, S] or [S].
RopeShape check_rope_inputs(const OpCall& c, const std::string& tensor) {
  c.expect_rank(tensor, 4);
  const Shape& x = c.shape(tensor);
  RopeShape s;
  s.B = x[0];
  s.S = x[1];
  s.H = x[2];
  s.D = x[3];
  if (s.D % 2 != 0) c.fail_shape(tensor, "[B, S, H, D] with D even (dimension i pairs with i + D/2)");
  const Shape& p = c.shape("positions");
  if (p == Shape{s.B, s.S}) {
    s.positions_per_batch = true;
  } else if (p == Shape{s.S}) {
    s.positions_per_batch = false;
  } else {
    c.fail_shape("positions", dims({s.B, s.S}) + " or " + dims({s.S}) + " ([B, S] or [S] from '" + tensor +
                                  "' " + x.str() + ")");
  }
  checked_attr(c, "theta", [](double v) { return v > 0; }, "a finite value > 0");
  return s;
}

void add_rope(std::vector<OpDef>& ops) {
  const AttrDef theta{"theta", 10000.0, "frequency base: angle = position * theta^(-2i/D); finite and > 0"};
  const InputDef positions{"positions", ArgKind::kInt32,
                           "[B, S] or [S] (shared by the batch); any int32, negative included"};

  OpDef f;
  f.name = "rope";
  f.summary = "rotary position embedding, rotate-half pairs (i, i + D/2): y = x cos(angle) + rotate_half(x) sin(angle)";
  f.inputs = {{"x", ArgKind::kFloat, "[B, S, H, D], D even"}, positions};
  f.attrs = {theta};
  f.outputs = {{"y", ArgKind::kFloat, "[B, S, H, D] (shape of x)"}};
  f.backward = "rope_backward";
  f.infer = [](const OpCall& c) {
    check_rope_inputs(c, "x");
    return std::vector<Shape>{c.shape("x")};
  };
  f.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    const RopeShape s = check_rope_inputs(c, "x");
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      rope_forward<T>(c.in("x").ptr<T>(), c.in("positions").ptr<int32_t>(), c.attr("theta"), out[0].ptr<T>(), s);
    });
  };
  ops.push_back(f);

  OpDef b;
  b.name = "rope_backward";
  b.summary = "gradient of rope: dy rotated by the negative angle";
  b.inputs = {positions, {"dy", ArgKind::kFloat, "[B, S, H, D]"}};
  b.attrs = {theta};
  b.outputs = {{"dx", ArgKind::kFloat, "[B, S, H, D] (shape of dy)"}};
  b.infer = [](const OpCall& c) {
    check_rope_inputs(c, "dy");
    return std::vector<Shape>{c.shape("dy")};
  };
  b.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    const RopeShape s = check_rope_inputs(c, "dy");
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      rope_backward<T>(c.in("dy").ptr<T>(), c.in("positions").ptr<int32_t>(), c.attr("theta"), out[0].ptr<T>(), s);
    });
  };
  ops.push_back(b);
}

// ---------------------------------------------------------------------------------------------
// attention

AttentionShape check_attention_inputs(const OpCall& c) {
  c.expect_rank("q", 4);
  const Shape& q = c.shape("q");
  AttentionShape s;
  s.B = q[0];
  s.Tq = q[1];
  s.Hq = q[2];
  s.D = q[3];
  if (s.D == 0) c.fail_shape("q", "[B, Tq, Hq, D] with D >= 1");
  c.expect_rank("k", 4);
  const Shape& k = c.shape("k");
  s.Tk = k[1];
  s.Hkv = k[2];
  if (k[0] != s.B || k[3] != s.D || s.Hkv == 0 || s.Hq % s.Hkv != 0)
    c.fail_shape("k", "[" + std::to_string(s.B) + ", Tk, Hkv, " + std::to_string(s.D) +
                          "] with Hkv >= 1 dividing Hq = " + std::to_string(s.Hq) + " (B, D and Hq from q " +
                          q.str() + ")");
  c.expect_same_shape("k", "v");
  checked_attr(c, "scale", [](double) { return true; }, "a finite value (0 means 1/sqrt(D))");
  return s;
}

double attention_scale(const OpCall& c, int64_t D) {
  const double scale = c.attr("scale");
  return scale == 0 ? 1.0 / std::sqrt(static_cast<double>(D)) : scale;
}

void add_attention(std::vector<OpDef>& ops) {
  const AttrDef scale{"scale", 0.0, "multiplies q.k before the softmax; 0 (the default) means 1/sqrt(D)"};
  const InputDef q{"q", ArgKind::kFloat, "[B, Tq, Hq, D]"};
  const InputDef k{"k", ArgKind::kFloat, "[B, Tk, Hkv, D], Hq a multiple of Hkv"};
  const InputDef v{"v", ArgKind::kFloat, "[B, Tk, Hkv, D] (shape of k)"};

  OpDef f;
  f.name = "attention";
  f.summary =
      "out = softmax(scale * q k^T over allowed keys) v per head, grouped KV heads (query head h reads KV head "
      "h / (Hq / Hkv)); a query with no allowed key gets zeros";
  f.inputs = {q, k, v,
              {"mask", ArgKind::kUInt8, "[B, Tq, Tk] or [1, Tq, Tk]; 1 = may attend, 0 = blocked (absent: all 1)",
               /*optional=*/true}};
  f.attrs = {scale};
  f.outputs = {{"out", ArgKind::kFloat, "[B, Tq, Hq, D]"},
               {"probs", ArgKind::kFloat, "[B, Hq, Tq, Tk]: attention weights, 0 where blocked", false}};
  f.backward = "attention_backward";
  auto check_mask = [](const OpCall& c, AttentionShape* s) {
    if (!c.has("mask")) return;
    const Shape& m = c.shape("mask");
    if (m == Shape{s->B, s->Tq, s->Tk}) {
      s->mask_per_batch = true;
    } else if (m == Shape{1, s->Tq, s->Tk}) {
      s->mask_per_batch = false;
    } else {
      c.fail_shape("mask", dims({s->B, s->Tq, s->Tk}) + " or " + dims({1, s->Tq, s->Tk}) +
                               " ([B, Tq, Tk] or [1, Tq, Tk] from q and k)");
    }
  };
  f.infer = [check_mask](const OpCall& c) {
    AttentionShape s = check_attention_inputs(c);
    check_mask(c, &s);
    if (c.has("mask")) check_zero_one(c, "mask", "0 = blocked, 1 = may attend");
    return std::vector<Shape>{c.shape("q"), Shape{s.B, s.Hq, s.Tq, s.Tk}};
  };
  f.run = [check_mask](const OpCall& c, const std::vector<AnyTensor>& out) {
    AttentionShape s = check_attention_inputs(c);
    check_mask(c, &s);
    const uint8_t* mask = c.has("mask") ? c.in("mask").ptr<uint8_t>() : nullptr;
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      attention_forward<T>(c.in("q").ptr<T>(), c.in("k").ptr<T>(), c.in("v").ptr<T>(), mask,
                           static_cast<T>(attention_scale(c, s.D)), out[0].ptr<T>(), out[1].ptr<T>(), s);
    });
  };
  ops.push_back(f);

  OpDef b;
  b.name = "attention_backward";
  b.summary = "gradient of attention from the saved probs: dq, dk, dv (dk, dv summed over the query heads of a KV head)";
  b.inputs = {q, k, v, {"probs", ArgKind::kFloat, "[B, Hq, Tq, Tk] (saved by attention)"},
              {"dout", ArgKind::kFloat, "[B, Tq, Hq, D] (shape of q)"}};
  b.attrs = {scale};
  b.outputs = {{"dq", ArgKind::kFloat, "[B, Tq, Hq, D]"},
               {"dk", ArgKind::kFloat, "[B, Tk, Hkv, D]"},
               {"dv", ArgKind::kFloat, "[B, Tk, Hkv, D]"}};
  b.infer = [](const OpCall& c) {
    const AttentionShape s = check_attention_inputs(c);
    if (c.shape("probs") != Shape{s.B, s.Hq, s.Tq, s.Tk})
      c.fail_shape("probs", dims({s.B, s.Hq, s.Tq, s.Tk}) + " ([B, Hq, Tq, Tk] from q and k)");
    c.expect_same_shape("q", "dout");
    return std::vector<Shape>{c.shape("q"), c.shape("k"), c.shape("k")};
  };
  b.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    const AttentionShape s = check_attention_inputs(c);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      attention_backward<T>(c.in("q").ptr<T>(), c.in("k").ptr<T>(), c.in("v").ptr<T>(), c.in("probs").ptr<T>(),
                            c.in("dout").ptr<T>(), static_cast<T>(attention_scale(c, s.D)), out[0].ptr<T>(),
                            out[1].ptr<T>(), out[2].ptr<T>(), s);
    });
  };
  ops.push_back(b);
}

// ---------------------------------------------------------------------------------------------
// block_mask

// segments (and key_segments): [T] or [B, T]. Returns the mask shape [Bm, Tq, Tk].
BlockMaskShape check_block_mask_inputs(const OpCall& c) {
  BlockMaskShape s;
  auto read_segments = [&](const std::string& name, int64_t* batch, int64_t* length) {
    const Shape& sh = c.shape(name);
    if (sh.rank() == 1) {
      *batch = 0;  // shared
      *length = sh[0];
    } else if (sh.rank() == 2) {
      *batch = sh[0];
      *length = sh[1];
    } else {
      c.fail_shape(name, "[T] or [B, T] (one segment id per token)");
    }
  };
  int64_t bq, bk;
  read_segments("segments", &bq, &s.Tq);
  const std::string keys = c.has("key_segments") ? "key_segments" : "segments";
  read_segments(keys, &bk, &s.Tk);
  if (bq && bk && bq != bk)
    c.fail_shape(keys, "[" + std::to_string(bq) + ", Tk] or [Tk] (the batch of 'segments' " +
                           c.shape("segments").str() + ")");
  s.query_per_batch = bq > 0;
  s.key_per_batch = bk > 0;
  s.Bm = bq ? bq : (bk ? bk : 1);
  c.expect_rank("allow", 2);
  const Shape& a = c.shape("allow");
  if (a[0] != a[1] || a[0] == 0) c.fail_shape("allow", "[S, S] with S >= 1 (allow[query segment][key segment])");
  s.S = a[0];
  return s;
}

void add_block_mask(std::vector<OpDef>& ops) {
  OpDef f;
  f.name = "block_mask";
  f.summary = "mask[b, i, j] = allow[segments[b, i], key_segments[b, j]]: block attention masks from segment ids";
  f.inputs = {{"segments", ArgKind::kInt32, "[T] or [B, T]: segment id in [0, S) of each query token"},
              {"key_segments", ArgKind::kInt32, "[Tk] or [B, Tk]: segment ids of the keys (absent: segments)",
               /*optional=*/true},
              {"allow", ArgKind::kUInt8, "[S, S]: allow[a][c] = 1 lets segment a attend segment c, else 0"}};
  f.outputs = {{"mask", ArgKind::kUInt8, "[1, T, Tk], or [B, T, Tk] when either segment input has a batch", false}};
  f.infer = [](const OpCall& c) {
    const BlockMaskShape s = check_block_mask_inputs(c);
    check_int_range(c, "segments", s.S, "S");
    if (c.has("key_segments")) check_int_range(c, "key_segments", s.S, "S");
    check_zero_one(c, "allow", "0 = blocked, 1 = may attend");
    return std::vector<Shape>{Shape{s.Bm, s.Tq, s.Tk}};
  };
  f.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    const BlockMaskShape s = check_block_mask_inputs(c);
    const int32_t* qs = c.in("segments").ptr<int32_t>();
    const int32_t* ks = c.has("key_segments") ? c.in("key_segments").ptr<int32_t>() : qs;
    build_block_mask(qs, ks, c.in("allow").ptr<uint8_t>(), out[0].ptr<uint8_t>(), s);
  };
  ops.push_back(f);
}

}  // namespace

void register_attention_ops(std::vector<OpDef>& ops) {
  add_rope(ops);
  add_attention(ops);
  add_block_mask(ops);
}

}  // namespace vla
