// Registrations: rmsnorm, softmax and their backward ops.
#include "ops/rmsnorm.h"
#include "ops/softmax.h"
#include "registry/input_checks.h"
#include "registry/op_registry.h"

namespace vla {

namespace {

// Product of all dimensions but the last: the rows of an op over the last axis.
int64_t leading_rows(const Shape& s) {
  int64_t m = 1;
  for (int i = 0; i + 1 < s.rank(); ++i) m *= s[i];
  return m;
}

// x: [..., C] with C >= 1 and w: [C]; returns C and sets *M.
int64_t check_rmsnorm_inputs(const OpCall& c, int64_t* M) {
  c.expect_rank_at_least("x", 1);
  const Shape& x = c.shape("x");
  const int64_t C = x[x.rank() - 1];
  if (C == 0) c.fail_shape("x", "[..., C] with C >= 1 (the normalized axis cannot be empty)");
  c.expect_rank("w", 1);
  c.expect_dim("w", 0, C, "C, the last dimension of x");
  *M = leading_rows(x);
  return C;
}

void add_rmsnorm(std::vector<OpDef>& ops) {
  OpDef f;
  f.name = "rmsnorm";
  f.summary = "y = x * rstd * w over the last axis, rstd = 1 / sqrt(mean(x^2) + eps)";
  f.inputs = {{"x", ArgKind::kFloat, "[..., C]"}, {"w", ArgKind::kFloat, "[C]"}};
  f.attrs = {{"eps", 1e-6, "added to mean(x^2) under the square root; finite and > 0"}};
  f.outputs = {{"y", ArgKind::kFloat, "[..., C] (shape of x)"},
               {"rstd", ArgKind::kFloat, "[M], M = numel(x) / C: 1 / sqrt(mean(x^2) + eps) per row", false}};
  f.backward = "rmsnorm_backward";
  f.infer = [](const OpCall& c) {
    int64_t M;
    check_rmsnorm_inputs(c, &M);
    checked_attr(c, "eps", [](double v) { return v > 0; }, "a finite value > 0");
    return std::vector<Shape>{c.shape("x"), Shape{M}};
  };
  f.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    int64_t M;
    const int64_t C = check_rmsnorm_inputs(c, &M);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      rmsnorm_forward<T>(c.in("x").ptr<T>(), c.in("w").ptr<T>(), static_cast<T>(c.attr("eps")), out[0].ptr<T>(),
                         out[1].ptr<T>(), M, C);
    });
  };
  ops.push_back(f);

  OpDef b;
  b.name = "rmsnorm_backward";
  b.summary = "gradient of rmsnorm: dx and dw from x, w, the saved rstd and dy";
  b.inputs = {{"x", ArgKind::kFloat, "[..., C]"},
              {"w", ArgKind::kFloat, "[C]"},
              {"rstd", ArgKind::kFloat, "[M] (saved by rmsnorm)"},
              {"dy", ArgKind::kFloat, "[..., C] (shape of x)"}};
  b.outputs = {{"dx", ArgKind::kFloat, "[..., C] (shape of x)"}, {"dw", ArgKind::kFloat, "[C]"}};
  b.infer = [](const OpCall& c) {
    int64_t M;
    const int64_t C = check_rmsnorm_inputs(c, &M);
    if (c.shape("rstd") != Shape{M}) c.fail_shape("rstd", Shape{M}.str() + " (one value per row of x)");
    c.expect_same_shape("x", "dy");
    return std::vector<Shape>{c.shape("x"), Shape{C}};
  };
  b.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    int64_t M;
    const int64_t C = check_rmsnorm_inputs(c, &M);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      rmsnorm_backward<T>(c.in("dy").ptr<T>(), c.in("x").ptr<T>(), c.in("w").ptr<T>(), c.in("rstd").ptr<T>(),
                          out[0].ptr<T>(), out[1].ptr<T>(), M, C);
    });
  };
  ops.push_back(b);
}

void add_softmax(std::vector<OpDef>& ops) {
  OpDef f;
  f.name = "softmax";
  f.summary = "y = exp(x - max) / sum(exp(x - max)) over the last axis";
  f.inputs = {{"x", ArgKind::kFloat, "[..., N]", false, false, /*check_finite=*/true}};
  f.outputs = {{"y", ArgKind::kFloat, "[..., N] (shape of x)"}};
  f.backward = "softmax_backward";
  f.infer = [](const OpCall& c) {
    c.expect_rank_at_least("x", 1);
    return std::vector<Shape>{c.shape("x")};
  };
  f.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    const Shape& x = c.shape("x");
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      softmax_forward<T>(c.in("x").ptr<T>(), out[0].ptr<T>(), leading_rows(x), x[x.rank() - 1]);
    });
  };
  ops.push_back(f);

  OpDef b;
  b.name = "softmax_backward";
  b.summary = "gradient of softmax from its saved output: dx = y * (dy - sum(dy * y))";
  b.inputs = {{"y", ArgKind::kFloat, "[..., N] (saved by softmax)"}, {"dy", ArgKind::kFloat, "[..., N] (shape of y)"}};
  b.outputs = {{"dx", ArgKind::kFloat, "[..., N] (shape of y)"}};
  b.infer = [](const OpCall& c) {
    c.expect_rank_at_least("y", 1);
    c.expect_same_shape("y", "dy");
    return std::vector<Shape>{c.shape("y")};
  };
  b.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    const Shape& y = c.shape("y");
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      softmax_backward<T>(c.in("y").ptr<T>(), c.in("dy").ptr<T>(), out[0].ptr<T>(), leading_rows(y), y[y.rank() - 1]);
    });
  };
  ops.push_back(b);
}

}  // namespace

void register_normalization_ops(std::vector<OpDef>& ops) {
  add_rmsnorm(ops);
  add_softmax(ops);
}

}  // namespace vla
