#include "tests/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <set>
#include <sstream>

#include "tests/test_framework.h"

namespace vla::test {

namespace {

// Storage for one call's inputs in a chosen float dtype.
struct Bound {
  std::vector<std::vector<unsigned char>> buffers;
  std::vector<std::pair<std::string, AnyTensor>> named;
};

template <typename T>
void fill(std::vector<unsigned char>& buf, const std::vector<double>& v) {
  buf.resize(v.size() * sizeof(T));
  T* p = reinterpret_cast<T*>(buf.data());
  for (size_t i = 0; i < v.size(); ++i) p[i] = static_cast<T>(v[i]);
}

void bind(Bound& b, const std::string& name, DType dt, const Shape& shape, const std::vector<double>& values) {
  b.buffers.emplace_back();
  auto& buf = b.buffers.back();
  switch (dt) {
    case DType::kF32: fill<float>(buf, values); break;
    case DType::kF64: fill<double>(buf, values); break;
    case DType::kI32: fill<int32_t>(buf, values); break;
    case DType::kU8: fill<uint8_t>(buf, values); break;
  }
  b.named.push_back({name, AnyTensor{buf.data(), dt, shape}});
}

std::vector<double> to_doubles(const AnyTensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (t.dtype) {
      case DType::kF32: v[i] = static_cast<const float*>(t.data)[i]; break;
      case DType::kF64: v[i] = static_cast<const double*>(t.data)[i]; break;
      case DType::kI32: v[i] = static_cast<const int32_t*>(t.data)[i]; break;
      case DType::kU8: v[i] = static_cast<const uint8_t*>(t.data)[i]; break;
    }
  }
  return v;
}

struct Named {
  std::string name;
  Shape shape;
  std::vector<double> values;
};

// Runs `op` with the given named inputs (values in double, stored in `float_dtype`).
std::vector<Named> run_op(const OpDef& op, const std::vector<Named>& inputs,
                          const std::vector<std::pair<std::string, DType>>& kinds,
                          const std::vector<std::pair<std::string, double>>& attrs, DType float_dtype) {
  Bound b;
  b.buffers.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    DType dt = kinds[i].second == DType::kF64 || kinds[i].second == DType::kF32 ? float_dtype : kinds[i].second;
    bind(b, inputs[i].name, dt, inputs[i].shape, inputs[i].values);
  }
  OpCall call = make_call(op, b.named, attrs);
  auto owned = run_call_owned(call);
  std::vector<Named> out;
  for (size_t i = 0; i < owned.size(); ++i)
    out.push_back({op.outputs[i].name, owned[i].view.shape, to_doubles(owned[i].view)});
  return out;
}

const Named* find(const std::vector<Named>& v, const std::string& name) {
  for (const auto& n : v)
    if (n.name == name) return &n;
  return nullptr;
}

struct Evaluation {
  std::vector<Named> forward;
  std::vector<Named> grads;
};

// Forward + backward for one dtype.
Evaluation evaluate(const OpDef& fwd, const OpDef& bwd, const GradCase& c, const std::vector<Named>& R,
                    DType float_dtype) {
  std::vector<Named> inputs;
  std::vector<std::pair<std::string, DType>> kinds;
  for (const auto& in : c.inputs) {
    inputs.push_back({in.name, in.shape, in.values});
    kinds.push_back({in.name, in.dtype});
  }
  Evaluation ev;
  ev.forward = run_op(fwd, inputs, kinds, c.attrs, float_dtype);

  // Wire the backward op's inputs by name: d<out> <- R, forward inputs, saved forward outputs.
  std::vector<Named> binputs;
  std::vector<std::pair<std::string, DType>> bkinds;
  for (const InputDef& d : bwd.inputs) {
    const Named* src = nullptr;
    DType kind = DType::kF64;
    if ((src = find(R, d.name))) {
    } else if ((src = find(inputs, d.name))) {
      for (const auto& k : kinds)
        if (k.first == d.name) kind = k.second;
    } else if ((src = find(ev.forward, d.name))) {
      int oi = fwd.output_index(d.name);
      kind = fwd.outputs[oi].kind == ArgKind::kInt32 ? DType::kI32
             : fwd.outputs[oi].kind == ArgKind::kUInt8 ? DType::kU8
                                                      : DType::kF64;
    } else if (d.optional) {
      continue;
    } else {
      fail(ErrorCode::kInternal, "gradcheck: cannot wire backward input '", d.name, "' of ", bwd.name);
    }
    binputs.push_back(*src);
    bkinds.push_back({d.name, kind});
  }
  // Backward attributes: those the forward was given that the backward also takes.
  std::vector<std::pair<std::string, double>> battrs;
  for (const auto& a : c.attrs)
    if (bwd.attr_index(a.first) >= 0) battrs.push_back(a);
  ev.grads = run_op(bwd, binputs, bkinds, battrs, float_dtype);
  return ev;
}

double loss_of(const std::vector<Named>& forward, const std::vector<Named>& R) {
  double L = 0;
  for (const auto& r : R) {
    const Named* y = find(forward, r.name.substr(1));
    for (size_t i = 0; i < r.values.size(); ++i) L += r.values[i] * y->values[i];
  }
  return L;
}

std::mutex g_checked_mu;
std::set<std::string>& checked() {
  static std::set<std::string> s;
  return s;
}

}  // namespace

CaseInput random_input(Rng& rng, const std::string& name, Shape shape, double scale) {
  CaseInput in{name, DType::kF64, shape, {}};
  in.values.resize(static_cast<size_t>(shape.numel()));
  for (auto& v : in.values) v = scale * rng.normal();
  return in;
}

CaseInput int_input(const std::string& name, Shape shape, std::vector<double> values) {
  VLA_CHECK(static_cast<int64_t>(values.size()) == shape.numel());
  return CaseInput{name, DType::kI32, shape, std::move(values)};
}

CaseInput mask_input(const std::string& name, Shape shape, std::vector<double> values) {
  VLA_CHECK(static_cast<int64_t>(values.size()) == shape.numel());
  return CaseInput{name, DType::kU8, shape, std::move(values)};
}

GradCheckReport gradcheck(const std::string& forward_op, const GradCase& c, uint64_t seed,
                          const GradCheckOptions& opts) {
  GradCheckReport rep;
  const OpDef& fwd = find_op(forward_op);
  if (fwd.backward.empty()) fail(ErrorCode::kInternal, "gradcheck: ", forward_op, " has no backward op");
  const OpDef& bwd = find_op(fwd.backward);
  Rng rng(seed, 0xD1FF);

  // Shapes of the differentiable outputs, from a float64 forward run.
  std::vector<Named> inputs;
  std::vector<std::pair<std::string, DType>> kinds;
  for (const auto& in : c.inputs) {
    inputs.push_back({in.name, in.shape, in.values});
    kinds.push_back({in.name, in.dtype});
  }
  std::vector<Named> y = run_op(fwd, inputs, kinds, c.attrs, DType::kF64);
  std::vector<Named> R;
  for (size_t k = 0; k < fwd.outputs.size(); ++k) {
    if (!fwd.outputs[k].differentiable) continue;
    Named r{"d" + fwd.outputs[k].name, y[k].shape, {}};
    r.values.resize(y[k].values.size());
    for (auto& v : r.values) v = rng.normal();
    R.push_back(std::move(r));
  }

  Evaluation ev64 = evaluate(fwd, bwd, c, R, DType::kF64);

  // Finite differences on probed elements of every input that has a gradient.
  for (const auto& g : ev64.grads) {
    std::string xname = g.name.substr(1);
    int xi = -1;
    for (size_t i = 0; i < c.inputs.size(); ++i)
      if (c.inputs[i].name == xname) xi = static_cast<int>(i);
    if (xi < 0) {
      // The gradient of an optional input the case leaves out is an empty output (see op_registry.h).
      const int fi = fwd.input_index(xname);
      if (fi >= 0 && fwd.inputs[fi].optional && g.values.empty()) continue;
      fail(ErrorCode::kInternal, "gradcheck: backward output '", g.name, "' matches no input");
    }
    const CaseInput& x = c.inputs[xi];
    int64_t n = static_cast<int64_t>(x.values.size());
    std::vector<int64_t> probes;
    if (n <= opts.max_probes) {
      for (int64_t i = 0; i < n; ++i) probes.push_back(i);
    } else {
      for (int p = 0; p < opts.max_probes; ++p) probes.push_back(static_cast<int64_t>(rng.below(n)));
    }
    for (int64_t i : probes) {
      GradCase plus = c, minus = c;
      plus.inputs[xi].values[i] += opts.h;
      minus.inputs[xi].values[i] -= opts.h;
      std::vector<Named> pin = inputs, min_ = inputs;
      pin[xi].values = plus.inputs[xi].values;
      min_[xi].values = minus.inputs[xi].values;
      double Lp = loss_of(run_op(fwd, pin, kinds, c.attrs, DType::kF64), R);
      double Lm = loss_of(run_op(fwd, min_, kinds, c.attrs, DType::kF64), R);
      double numeric = (Lp - Lm) / (2 * opts.h);
      double analytic = g.values[i];
      double bound = opts.atol + opts.rtol * std::max(std::fabs(analytic), std::fabs(numeric));
      double err = std::fabs(analytic - numeric) / bound;
      rep.max_grad_error = std::max(rep.max_grad_error, err);
      rep.probes++;
      if (err > 1.0) {
        std::ostringstream os;
        os.precision(10);
        os << forward_op << ": d" << xname << "[" << i << "] analytic " << analytic << " vs numeric " << numeric;
        rep.failures.push_back(os.str());
      }
    }
  }

  // float32 against the float64 reference: outputs and gradients.
  GradCase c32 = c;
  for (auto& in : c32.inputs)
    if (in.dtype == DType::kF64)
      for (auto& v : in.values) v = static_cast<double>(static_cast<float>(v));
  std::vector<Named> R32 = R;
  for (auto& r : R32)
    for (auto& v : r.values) v = static_cast<double>(static_cast<float>(v));
  Evaluation ev32 = evaluate(fwd, bwd, c32, R32, DType::kF32);
  Evaluation ref = evaluate(fwd, bwd, c32, R32, DType::kF64);
  auto compare = [&](const std::vector<Named>& a, const std::vector<Named>& b, const char* what) {
    for (size_t k = 0; k < a.size(); ++k) {
      double scale = 1e-3, worst = 0;
      for (double v : b[k].values) scale = std::max(scale, std::fabs(v));
      for (size_t i = 0; i < a[k].values.size(); ++i)
        worst = std::max(worst, std::fabs(a[k].values[i] - b[k].values[i]));
      double rel = worst / scale;
      rep.max_f32_error = std::max(rep.max_f32_error, rel);
      if (rel > opts.f32_tol) {
        std::ostringstream os;
        os << forward_op << ": float32 " << what << " '" << a[k].name << "' deviates from float64 by " << rel
           << " (relative to max " << scale << ")";
        rep.failures.push_back(os.str());
      }
    }
  };
  compare(ev32.forward, ref.forward, "output");
  compare(ev32.grads, ref.grads, "gradient");
  return rep;
}

GradCheckReport expect_gradcheck(const std::string& forward_op, const GradCase& c, uint64_t seed,
                                 const GradCheckOptions& opts) {
  GradCheckReport rep = gradcheck(forward_op, c, seed, opts);
  for (const auto& f : rep.failures) Failure(__FILE__, __LINE__, f);
  std::printf("    %s: %d probes, worst grad error %.3g (<=1 passes), f32 vs f64 %.3g\n", forward_op.c_str(),
              rep.probes, rep.max_grad_error, rep.max_f32_error);
  if (rep.probes == 0) Failure(__FILE__, __LINE__, forward_op + ": no gradient was checked");
  mark_checked(forward_op);
  return rep;
}

void mark_checked(const std::string& op) {
  std::lock_guard<std::mutex> lock(g_checked_mu);
  checked().insert(op);
}

std::vector<std::string> checked_ops() {
  std::lock_guard<std::mutex> lock(g_checked_mu);
  return {checked().begin(), checked().end()};
}

}  // namespace vla::test
