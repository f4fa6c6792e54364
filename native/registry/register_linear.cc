// Registrations: gemm, linear and their backward ops.
//
// Optional inputs with a gradient (gemm's c, linear's b): the backward op takes the forward input
// itself, optionally, only as the statement that its gradient is wanted (its values are not read).
// When it is given, the gradient output has its shape; when absent, that output is empty (shape
// [0]) and gradient checkers skip it.
#include <algorithm>
#include <string>

#include "ops/gemm.h"
#include "ops/linear.h"
#include "registry/op_registry.h"

namespace vla {

namespace {

// ---------------------------------------------------------------------------------------------
// gemm: out = alpha * op(a) * op(b) + beta * c

struct GemmDims {
  bool trans_a = false, trans_b = false;
  int64_t M = 0, N = 0, K = 0;
};

bool flag_attr(const OpCall& c, const char* name) {
  const int64_t v = c.attr_int(name);
  if (v != 0 && v != 1)
    fail(ErrorCode::kArgument, c.def->name, ": attribute '", name, "' must be 0 or 1, got ", v);
  return v == 1;
}

// Reads the flags and checks a, b (and c when given) against each other.
GemmDims gemm_dims(const OpCall& c) {
  GemmDims d;
  d.trans_a = flag_attr(c, "trans_a");
  d.trans_b = flag_attr(c, "trans_b");
  c.expect_rank("a", 2);
  c.expect_rank("b", 2);
  const Shape& a = c.shape("a");
  const Shape& b = c.shape("b");
  d.M = d.trans_a ? a[1] : a[0];
  d.K = d.trans_a ? a[0] : a[1];
  c.expect_dim("b", d.trans_b ? 1 : 0, d.K,
               std::string("K, the inner dimension: dimension ") + (d.trans_a ? "0 of a, as trans_a = 1" : "1 of a") +
                   (d.trans_b ? "; b is [N, K] as trans_b = 1" : "; b is [K, N]"));
  d.N = d.trans_b ? b[0] : b[1];
  if (c.has("c")) {
    c.expect_rank("c", 2);
    c.expect_dim("c", 0, d.M, "M, the rows of op(a)");
    c.expect_dim("c", 1, d.N, "N, the columns of op(b)");
  } else if (c.attr("beta") != 0) {
    fail(ErrorCode::kArgument, c.def->name, ": beta = ", c.attr("beta"), " needs input 'c' (beta * c is added)");
  }
  return d;
}

void add_gemm(std::vector<OpDef>& ops) {
  const std::vector<AttrDef> attrs = {
      {"trans_a", 0, "1: a is stored [K, M] and op(a) = a^T", true},
      {"trans_b", 0, "1: b is stored [N, K] and op(b) = b^T", true},
      {"alpha", 1, "scale of op(a) * op(b)"},
      {"beta", 0, "scale of c; nonzero needs c"},
  };

  OpDef f;
  f.name = "gemm";
  f.summary = "out = alpha * op(a) * op(b) + beta * c, op(x) = x or x^T (trans_a, trans_b)";
  f.inputs = {{"a", ArgKind::kFloat, "[M, K], or [K, M] when trans_a"},
              {"b", ArgKind::kFloat, "[K, N], or [N, K] when trans_b"},
              {"c", ArgKind::kFloat, "[M, N]", true}};
  f.attrs = attrs;
  f.outputs = {{"out", ArgKind::kFloat, "[M, N]"}};
  f.backward = "gemm_backward";
  f.infer = [](const OpCall& c) {
    GemmDims d = gemm_dims(c);
    return std::vector<Shape>{Shape{d.M, d.N}};
  };
  f.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    GemmDims d = gemm_dims(c);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      T* o = out[0].ptr<T>();
      const T beta = static_cast<T>(c.attr("beta"));
      if (beta != T(0)) {
        const T* src = c.in("c").ptr<T>();
        std::copy(src, src + d.M * d.N, o);
      }
      gemm<T>(d.trans_a, d.trans_b, d.M, d.N, d.K, static_cast<T>(c.attr("alpha")), c.in("a").ptr<T>(),
              d.trans_a ? d.M : d.K, c.in("b").ptr<T>(), d.trans_b ? d.K : d.N, beta, o, d.N);
    });
  };
  ops.push_back(f);

  OpDef b;
  b.name = "gemm_backward";
  b.summary = "gradient of gemm: da, db (in their stored layouts) and, when c is given, dc = beta * dout";
  b.inputs = {{"a", ArgKind::kFloat, "[M, K], or [K, M] when trans_a"},
              {"b", ArgKind::kFloat, "[K, N], or [N, K] when trans_b"},
              {"dout", ArgKind::kFloat, "[M, N]"},
              {"c", ArgKind::kFloat, "[M, N]; only says that dc is wanted (not read)", true}};
  b.attrs = attrs;
  b.outputs = {{"da", ArgKind::kFloat, "shape of a"},
               {"db", ArgKind::kFloat, "shape of b"},
               {"dc", ArgKind::kFloat, "[M, N] when c is given, else [0]"}};
  b.infer = [](const OpCall& c) {
    GemmDims d = gemm_dims(c);
    c.expect_rank("dout", 2);
    if (c.shape("dout") != Shape{d.M, d.N}) c.fail_shape("dout", Shape{d.M, d.N}.str() + " (the shape of out)");
    return std::vector<Shape>{c.shape("a"), c.shape("b"), c.has("c") ? Shape{d.M, d.N} : Shape{0}};
  };
  b.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    GemmDims d = gemm_dims(c);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      gemm_op_backward<T>(d.trans_a, d.trans_b, d.M, d.N, d.K, static_cast<T>(c.attr("alpha")),
                          static_cast<T>(c.attr("beta")), c.in("a").ptr<T>(), c.in("b").ptr<T>(),
                          c.in("dout").ptr<T>(), out[0].ptr<T>(), out[1].ptr<T>(),
                          c.has("c") ? out[2].ptr<T>() : nullptr);
    });
  };
  ops.push_back(b);
}

// ---------------------------------------------------------------------------------------------
// linear: y = x W^T + b

struct LinearDims {
  int64_t M = 0, K = 0, N = 0;
  Shape y;  // x's shape with the last dimension N
};

LinearDims linear_dims(const OpCall& c) {
  LinearDims d;
  c.expect_rank_at_least("x", 1);
  c.expect_rank("w", 2);
  const Shape& x = c.shape("x");
  d.K = x[x.rank() - 1];
  c.expect_dim("w", 1, d.K, "K, the last dimension of x");
  d.N = c.shape("w")[0];
  d.M = 1;
  for (int i = 0; i + 1 < x.rank(); ++i) d.M *= x[i];
  if (c.has("b")) {
    c.expect_rank("b", 1);
    c.expect_dim("b", 0, d.N, "N, the first dimension of w");
  }
  d.y = x;
  d.y[x.rank() - 1] = d.N;
  return d;
}

void add_linear(std::vector<OpDef>& ops) {
  OpDef f;
  f.name = "linear";
  f.summary = "y = x W^T + b over the last axis of x (W: [out_features, in_features], as in PyTorch)";
  f.inputs = {{"x", ArgKind::kFloat, "[..., K]"},
              {"w", ArgKind::kFloat, "[N, K]"},
              {"b", ArgKind::kFloat, "[N]", true}};
  f.outputs = {{"y", ArgKind::kFloat, "[..., N]"}};
  f.backward = "linear_backward";
  f.infer = [](const OpCall& c) { return std::vector<Shape>{linear_dims(c).y}; };
  f.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    LinearDims d = linear_dims(c);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      linear_forward<T>(c.in("x").ptr<T>(), c.in("w").ptr<T>(), c.has("b") ? c.in("b").ptr<T>() : nullptr,
                        out[0].ptr<T>(), d.M, d.K, d.N);
    });
  };
  ops.push_back(f);

  OpDef b;
  b.name = "linear_backward";
  b.summary = "gradient of linear: dx = dy W, dw = dy^T x (rows flattened), db = column sums of dy when b is given";
  b.inputs = {{"x", ArgKind::kFloat, "[..., K]"},
              {"w", ArgKind::kFloat, "[N, K]"},
              {"dy", ArgKind::kFloat, "[..., N]"},
              {"b", ArgKind::kFloat, "[N]; only says that db is wanted (not read)", true}};
  b.outputs = {{"dx", ArgKind::kFloat, "[..., K] (shape of x)"},
               {"dw", ArgKind::kFloat, "[N, K]"},
               {"db", ArgKind::kFloat, "[N] when b is given, else [0]"}};
  b.infer = [](const OpCall& c) {
    LinearDims d = linear_dims(c);
    if (c.shape("dy") != d.y) c.fail_shape("dy", d.y.str() + " (the shape of y)");
    return std::vector<Shape>{c.shape("x"), c.shape("w"), c.has("b") ? Shape{d.N} : Shape{0}};
  };
  b.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    LinearDims d = linear_dims(c);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      linear_backward<T>(c.in("dy").ptr<T>(), c.in("x").ptr<T>(), c.in("w").ptr<T>(), out[0].ptr<T>(),
                         out[1].ptr<T>(), c.has("b") ? out[2].ptr<T>() : nullptr, d.M, d.K, d.N);
    });
  };
  ops.push_back(b);
}

}  // namespace

void register_linear_ops(std::vector<OpDef>& ops) {
  add_gemm(ops);
  add_linear(ops);
}

}  // namespace vla
