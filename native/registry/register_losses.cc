// Registrations: mse_loss, flow_matching_loss, flow_interpolate and their backward ops.
#include <sstream>
#include <string>

#include "ops/flow_matching.h"
#include "ops/mse_loss.h"
#include "registry/input_checks.h"
#include "registry/op_registry.h"

namespace vla {

namespace {

// `first` is [B, ...]; `others` have its shape; the optional `per_batch` inputs are [B]. For a
// loss (`is_loss`), B >= 1 and each sample has at least one element: a mean over nothing is
// undefined. Returns B and sets *J, the elements per sample.
int64_t check_batch_inputs(const OpCall& c, const std::string& first, const std::vector<std::string>& others,
                           const std::vector<std::string>& per_batch, bool is_loss, int64_t* J) {
  c.expect_rank_at_least(first, 1);
  const Shape& s = c.shape(first);
  const int64_t B = s[0];
  *J = 1;
  for (int i = 1; i < s.rank(); ++i) *J *= s[i];
  if (is_loss && B == 0) c.fail_shape(first, "[B, ...] with B >= 1 (the loss averages over the batch)");
  if (is_loss && *J == 0) c.fail_shape(first, "[B, ...] with at least one element per sample (the loss averages them)");
  for (const auto& o : others) c.expect_same_shape(first, o);
  for (const auto& p : per_batch) {
    if (!c.has(p)) continue;
    if (c.shape(p) != Shape{B}) c.fail_shape(p, Shape{B}.str() + " (one value per sample of '" + first + "')");
  }
  return B;
}

std::string format_value(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

void check_weights(const OpCall& c) {
  if (!c.has("weights")) return;
  dispatch_float(c.float_dtype, [&](auto tag) {
    using T = decltype(tag);
    const AnyTensor& w = c.in("weights");
    for (int64_t b = 0; b < w.numel(); ++b)
      if (!(w.ptr<T>()[b] >= 0))
        c.fail_value("input 'weights' has value " + format_value(w.ptr<T>()[b]) + " at [" + std::to_string(b) +
                     "]; expected >= 0");
  });
}

template <typename T>
const T* optional_ptr(const OpCall& c, const std::string& name) {
  return c.has(name) ? c.in(name).ptr<T>() : nullptr;
}

template <typename T>
T optional_scalar(const OpCall& c, const std::string& name) {
  return c.has(name) ? c.in(name).ptr<T>()[0] : T(0);
}

// The upstream gradients of the two loss outputs: dloss [] and dper_sample [B], each optional
// (absent means zero).
std::vector<InputDef> loss_output_gradients() {
  return {{"dloss", ArgKind::kFloat, "[] (absent: 0)", true}, {"dper_sample", ArgKind::kFloat, "[B] (absent: 0)", true}};
}

void check_loss_output_gradients(const OpCall& c, int64_t B) {
  if (c.has("dloss") && c.shape("dloss") != Shape{}) c.fail_shape("dloss", "[] (a scalar, like loss)");
  if (c.has("dper_sample") && c.shape("dper_sample") != Shape{B})
    c.fail_shape("dper_sample", Shape{B}.str() + " (like per_sample)");
}

const InputDef kWeights{"weights", ArgKind::kFloat, "[B], each >= 0 (absent: all 1)", true, false, true};

std::vector<OutputDef> loss_outputs() {
  return {{"loss", ArgKind::kFloat, "[]: (1/B) sum_b weights[b] per_sample[b]"},
          {"per_sample", ArgKind::kFloat, "[B]: mean over each sample's elements of the squared error"}};
}

void add_mse_loss(std::vector<OpDef>& ops) {
  OpDef f;
  f.name = "mse_loss";
  f.summary = "per_sample[b] = mean_j (pred - target)^2[b, j]; loss = (1/B) sum_b weights[b] per_sample[b]";
  f.inputs = {{"pred", ArgKind::kFloat, "[B, ...]", false, false, true},
              {"target", ArgKind::kFloat, "[B, ...] (shape of pred)", false, false, true},
              kWeights};
  f.outputs = loss_outputs();
  f.backward = "mse_loss_backward";
  f.infer = [](const OpCall& c) {
    int64_t J;
    const int64_t B = check_batch_inputs(c, "pred", {"target"}, {"weights"}, true, &J);
    check_weights(c);
    return std::vector<Shape>{Shape{}, Shape{B}};
  };
  f.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    int64_t J;
    const int64_t B = check_batch_inputs(c, "pred", {"target"}, {"weights"}, true, &J);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      mse_loss_forward<T>(c.in("pred").ptr<T>(), c.in("target").ptr<T>(), optional_ptr<T>(c, "weights"),
                          out[0].ptr<T>(), out[1].ptr<T>(), B, J);
    });
  };
  ops.push_back(f);

  OpDef b;
  b.name = "mse_loss_backward";
  b.summary = "gradient of mse_loss: dpred = g, dtarget = -g, g = (dloss w_b / B + dper_sample_b) 2 (pred - target) / J";
  b.inputs = {{"pred", ArgKind::kFloat, "[B, ...]"}, {"target", ArgKind::kFloat, "[B, ...] (shape of pred)"},
              {"weights", ArgKind::kFloat, "[B] (absent: all 1)", true}};
  for (const auto& d : loss_output_gradients()) b.inputs.push_back(d);
  b.outputs = {{"dpred", ArgKind::kFloat, "[B, ...]"}, {"dtarget", ArgKind::kFloat, "[B, ...]"}};
  b.infer = [](const OpCall& c) {
    int64_t J;
    const int64_t B = check_batch_inputs(c, "pred", {"target"}, {"weights"}, true, &J);
    check_loss_output_gradients(c, B);
    return std::vector<Shape>{c.shape("pred"), c.shape("pred")};
  };
  b.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    int64_t J;
    const int64_t B = check_batch_inputs(c, "pred", {"target"}, {"weights"}, true, &J);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      mse_loss_backward<T>(c.in("pred").ptr<T>(), c.in("target").ptr<T>(), optional_ptr<T>(c, "weights"),
                           optional_scalar<T>(c, "dloss"), optional_ptr<T>(c, "dper_sample"), out[0].ptr<T>(),
                           out[1].ptr<T>(), B, J);
    });
  };
  ops.push_back(b);
}

void add_flow_matching_loss(std::vector<OpDef>& ops) {
  OpDef f;
  f.name = "flow_matching_loss";
  f.summary =
      "mse_loss of the predicted field v against u = eps - actions (openpi: x_t = t eps + (1 - t) actions, t = 1 "
      "is noise)";
  f.inputs = {{"v", ArgKind::kFloat, "[B, ...]: predicted velocity field", false, false, true},
              {"eps", ArgKind::kFloat, "[B, ...] (shape of v): the noise", false, false, true},
              {"actions", ArgKind::kFloat, "[B, ...] (shape of v): ground-truth actions", false, false, true},
              kWeights};
  f.outputs = loss_outputs();
  f.backward = "flow_matching_loss_backward";
  f.infer = [](const OpCall& c) {
    int64_t J;
    const int64_t B = check_batch_inputs(c, "v", {"eps", "actions"}, {"weights"}, true, &J);
    check_weights(c);
    return std::vector<Shape>{Shape{}, Shape{B}};
  };
  f.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    int64_t J;
    const int64_t B = check_batch_inputs(c, "v", {"eps", "actions"}, {"weights"}, true, &J);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      flow_matching_loss_forward<T>(c.in("v").ptr<T>(), c.in("eps").ptr<T>(), c.in("actions").ptr<T>(),
                                    optional_ptr<T>(c, "weights"), out[0].ptr<T>(), out[1].ptr<T>(), B, J);
    });
  };
  ops.push_back(f);

  OpDef b;
  b.name = "flow_matching_loss_backward";
  b.summary = "gradient of flow_matching_loss: dv = g, deps = -g, dactions = g (g as in mse_loss_backward)";
  b.inputs = {{"v", ArgKind::kFloat, "[B, ...]"}, {"eps", ArgKind::kFloat, "[B, ...] (shape of v)"},
              {"actions", ArgKind::kFloat, "[B, ...] (shape of v)"},
              {"weights", ArgKind::kFloat, "[B] (absent: all 1)", true}};
  for (const auto& d : loss_output_gradients()) b.inputs.push_back(d);
  b.outputs = {{"dv", ArgKind::kFloat, "[B, ...]"}, {"deps", ArgKind::kFloat, "[B, ...]"},
               {"dactions", ArgKind::kFloat, "[B, ...]"}};
  b.infer = [](const OpCall& c) {
    int64_t J;
    const int64_t B = check_batch_inputs(c, "v", {"eps", "actions"}, {"weights"}, true, &J);
    check_loss_output_gradients(c, B);
    return std::vector<Shape>{c.shape("v"), c.shape("v"), c.shape("v")};
  };
  b.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    int64_t J;
    const int64_t B = check_batch_inputs(c, "v", {"eps", "actions"}, {"weights"}, true, &J);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      flow_matching_loss_backward<T>(c.in("v").ptr<T>(), c.in("eps").ptr<T>(), c.in("actions").ptr<T>(),
                                     optional_ptr<T>(c, "weights"), optional_scalar<T>(c, "dloss"),
                                     optional_ptr<T>(c, "dper_sample"), out[0].ptr<T>(), out[1].ptr<T>(),
                                     out[2].ptr<T>(), B, J);
    });
  };
  ops.push_back(b);
}

void add_flow_interpolate(std::vector<OpDef>& ops) {
  auto check = [](const OpCall& c, const std::string& extra, int64_t* J) {
    std::vector<std::string> others = {"actions"};
    if (!extra.empty()) others.push_back(extra);
    return check_batch_inputs(c, "eps", others, {"t"}, false, J);
  };

  OpDef f;
  f.name = "flow_interpolate";
  f.summary = "x_t = t eps + (1 - t) actions per sample (openpi: t = 1 is pure noise, t = 0 the actions)";
  f.inputs = {{"eps", ArgKind::kFloat, "[B, ...]: the noise", false, false, true},
              {"actions", ArgKind::kFloat, "[B, ...] (shape of eps)", false, false, true},
              {"t", ArgKind::kFloat, "[B], each in [0, 1]", false, false, true}};
  f.outputs = {{"x_t", ArgKind::kFloat, "[B, ...] (shape of eps)"}};
  f.backward = "flow_interpolate_backward";
  f.infer = [check](const OpCall& c) {
    int64_t J;
    check(c, "", &J);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      const AnyTensor& t = c.in("t");
      for (int64_t b = 0; b < t.numel(); ++b)
        if (!(t.ptr<T>()[b] >= 0 && t.ptr<T>()[b] <= 1))
          c.fail_value("input 't' has value " + format_value(t.ptr<T>()[b]) + " at [" + std::to_string(b) +
                       "]; expected a time in [0, 1]");
    });
    return std::vector<Shape>{c.shape("eps")};
  };
  f.run = [check](const OpCall& c, const std::vector<AnyTensor>& out) {
    int64_t J;
    const int64_t B = check(c, "", &J);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      flow_interpolate_forward<T>(c.in("eps").ptr<T>(), c.in("actions").ptr<T>(), c.in("t").ptr<T>(),
                                  out[0].ptr<T>(), B, J);
    });
  };
  ops.push_back(f);

  OpDef b;
  b.name = "flow_interpolate_backward";
  b.summary = "gradient of flow_interpolate: deps = t dx_t, dactions = (1 - t) dx_t, dt = sum_j dx_t (eps - actions)";
  b.inputs = {{"eps", ArgKind::kFloat, "[B, ...]"}, {"actions", ArgKind::kFloat, "[B, ...] (shape of eps)"},
              {"t", ArgKind::kFloat, "[B]"}, {"dx_t", ArgKind::kFloat, "[B, ...] (shape of eps)"}};
  b.outputs = {{"deps", ArgKind::kFloat, "[B, ...]"}, {"dactions", ArgKind::kFloat, "[B, ...]"},
               {"dt", ArgKind::kFloat, "[B]"}};
  b.infer = [check](const OpCall& c) {
    int64_t J;
    const int64_t B = check(c, "dx_t", &J);
    return std::vector<Shape>{c.shape("eps"), c.shape("eps"), Shape{B}};
  };
  b.run = [check](const OpCall& c, const std::vector<AnyTensor>& out) {
    int64_t J;
    const int64_t B = check(c, "dx_t", &J);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      flow_interpolate_backward<T>(c.in("eps").ptr<T>(), c.in("actions").ptr<T>(), c.in("t").ptr<T>(),
                                   c.in("dx_t").ptr<T>(), out[0].ptr<T>(), out[1].ptr<T>(), out[2].ptr<T>(), B, J);
    });
  };
  ops.push_back(b);
}

}  // namespace

void register_loss_ops(std::vector<OpDef>& ops) {
  add_mse_loss(ops);
  add_flow_matching_loss(ops);
  add_flow_interpolate(ops);
}

}  // namespace vla
