// Registrations: silu, gelu_tanh, geglu and their backward ops.
#include "ops/activations.h"
#include "registry/op_registry.h"

namespace vla {

namespace {

// A pointwise op y = f(x) and its backward dx = f'(x) dy, for any shape.
void add_pointwise(std::vector<OpDef>& ops, const std::string& name, const std::string& summary,
                   void (*fwd32)(const float*, float*, int64_t), void (*fwd64)(const double*, double*, int64_t),
                   void (*bwd32)(const float*, const float*, float*, int64_t),
                   void (*bwd64)(const double*, const double*, double*, int64_t)) {
  OpDef f;
  f.name = name;
  f.summary = summary;
  f.inputs = {{"x", ArgKind::kFloat, "[...]"}};
  f.outputs = {{"y", ArgKind::kFloat, "[...] (shape of x)"}};
  f.backward = name + "_backward";
  f.infer = [](const OpCall& c) { return std::vector<Shape>{c.shape("x")}; };
  f.run = [fwd32, fwd64](const OpCall& c, const std::vector<AnyTensor>& out) {
    const AnyTensor& x = c.in("x");
    if (c.float_dtype == DType::kF32) fwd32(x.ptr<float>(), out[0].ptr<float>(), x.numel());
    else fwd64(x.ptr<double>(), out[0].ptr<double>(), x.numel());
  };
  ops.push_back(f);

  OpDef b;
  b.name = name + "_backward";
  b.summary = "gradient of " + name + ": dx = f'(x) * dy";
  b.inputs = {{"x", ArgKind::kFloat, "[...]"}, {"dy", ArgKind::kFloat, "[...] (shape of x)"}};
  b.outputs = {{"dx", ArgKind::kFloat, "[...] (shape of x)"}};
  b.infer = [](const OpCall& c) {
    c.expect_same_shape("x", "dy");
    return std::vector<Shape>{c.shape("x")};
  };
  b.run = [bwd32, bwd64](const OpCall& c, const std::vector<AnyTensor>& out) {
    const AnyTensor& x = c.in("x");
    if (c.float_dtype == DType::kF32)
      bwd32(c.in("dy").ptr<float>(), x.ptr<float>(), out[0].ptr<float>(), x.numel());
    else
      bwd64(c.in("dy").ptr<double>(), x.ptr<double>(), out[0].ptr<double>(), x.numel());
  };
  ops.push_back(b);
}

void add_geglu(std::vector<OpDef>& ops) {
  auto infer_rows = [](const OpCall& c, int64_t* M, int64_t* F) {
    c.expect_rank_at_least("x", 1);
    const Shape& s = c.shape("x");
    int64_t last = s[s.rank() - 1];
    if (last % 2 != 0) c.fail_shape("x", "an even last dimension 2F ([gate | up])");
    *F = last / 2;
    *M = last == 0 ? 0 : s.numel() / last;
    Shape y = s;
    y[y.rank() - 1] = *F;
    return y;
  };

  OpDef f;
  f.name = "geglu";
  f.summary = "y = gelu_tanh(gate) * up, where x = [gate | up] along the last axis";
  f.inputs = {{"x", ArgKind::kFloat, "[..., 2F]"}};
  f.outputs = {{"y", ArgKind::kFloat, "[..., F]"}};
  f.backward = "geglu_backward";
  f.infer = [infer_rows](const OpCall& c) {
    int64_t M, F;
    return std::vector<Shape>{infer_rows(c, &M, &F)};
  };
  f.run = [infer_rows](const OpCall& c, const std::vector<AnyTensor>& out) {
    int64_t M, F;
    infer_rows(c, &M, &F);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      geglu_forward<T>(c.in("x").ptr<T>(), out[0].ptr<T>(), M, F);
    });
  };
  ops.push_back(f);

  OpDef b;
  b.name = "geglu_backward";
  b.summary = "gradient of geglu";
  b.inputs = {{"x", ArgKind::kFloat, "[..., 2F]"}, {"dy", ArgKind::kFloat, "[..., F]"}};
  b.outputs = {{"dx", ArgKind::kFloat, "[..., 2F]"}};
  b.infer = [infer_rows](const OpCall& c) {
    int64_t M, F;
    Shape y = infer_rows(c, &M, &F);
    if (c.shape("dy") != y) c.fail_shape("dy", y.str() + " (the output shape of geglu)");
    return std::vector<Shape>{c.shape("x")};
  };
  b.run = [infer_rows](const OpCall& c, const std::vector<AnyTensor>& out) {
    int64_t M, F;
    infer_rows(c, &M, &F);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      geglu_backward<T>(c.in("dy").ptr<T>(), c.in("x").ptr<T>(), out[0].ptr<T>(), M, F);
    });
  };
  ops.push_back(b);
}

}  // namespace

void register_activation_ops(std::vector<OpDef>& ops) {
  add_pointwise(ops, "silu", "y = x * sigmoid(x)", silu_forward<float>, silu_forward<double>,
                silu_backward<float>, silu_backward<double>);
  add_pointwise(ops, "gelu_tanh", "y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))", gelu_tanh_forward<float>,
                gelu_tanh_forward<double>, gelu_tanh_backward<float>, gelu_tanh_backward<double>);
  add_geglu(ops);
}

}  // namespace vla
