#include "registry/op_registry.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <sstream>

namespace vla {

const char* arg_kind_name(ArgKind k) {
  switch (k) {
    case ArgKind::kFloat: return "float32 or float64";
    case ArgKind::kInt32: return "int32";
    case ArgKind::kUInt8: return "uint8";
  }
  return "?";
}

namespace {

template <typename Defs>
int index_of(const Defs& defs, const std::string& name) {
  for (size_t i = 0; i < defs.size(); ++i)
    if (defs[i].name == name) return static_cast<int>(i);
  return -1;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) s += ", ";
    s += names[i];
  }
  return s;
}

std::vector<OpDef>& registry() {
  static std::vector<OpDef> ops;
  static std::once_flag once;
  std::call_once(once, [] {
    register_builtin_ops(ops);
    for (const OpDef& op : ops) {
      VLA_CHECK(op.infer && op.run);
      VLA_CHECK(index_of(ops, op.name) >= 0);
    }
  });
  return ops;
}

bool is_finite_tensor(const AnyTensor& t, int64_t* bad_index) {
  int64_t n = t.numel();
  if (t.dtype == DType::kF32) {
    const float* p = static_cast<const float*>(t.data);
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i])) {
        *bad_index = i;
        return false;
      }
  } else if (t.dtype == DType::kF64) {
    const double* p = static_cast<const double*>(t.data);
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i])) {
        *bad_index = i;
        return false;
      }
  }
  return true;
}

}  // namespace

int OpDef::input_index(const std::string& n) const { return index_of(inputs, n); }
int OpDef::attr_index(const std::string& n) const { return index_of(attrs, n); }
int OpDef::output_index(const std::string& n) const { return index_of(outputs, n); }

bool OpCall::has(const std::string& input) const {
  int i = def->input_index(input);
  VLA_CHECK(i >= 0);
  return inputs[i].defined;
}

const AnyTensor& OpCall::in(const std::string& input) const {
  int i = def->input_index(input);
  VLA_CHECK(i >= 0);
  if (!inputs[i].defined) fail(ErrorCode::kArgument, def->name, ": input '", input, "' is required");
  return inputs[i].tensor;
}

double OpCall::attr(const std::string& name) const {
  int i = def->attr_index(name);
  VLA_CHECK(i >= 0);
  return attrs[i];
}

int64_t OpCall::attr_int(const std::string& name) const {
  double v = attr(name);
  if (v != std::floor(v) || std::fabs(v) > 9.0e15)
    fail(ErrorCode::kArgument, def->name, ": attribute '", name, "' must be an integer, got ", v);
  return static_cast<int64_t>(v);
}

void OpCall::fail_shape(const std::string& input, const std::string& expected) const {
  fail(ErrorCode::kShape, def->name, ": input '", input, "' has shape ", shape(input).str(),
       ", expected ", expected);
}

void OpCall::fail_value(const std::string& what) const {
  fail(ErrorCode::kValue, def->name, ": ", what);
}

void OpCall::expect_rank(const std::string& input, int rank) const {
  if (shape(input).rank() != rank) fail_shape(input, "rank " + std::to_string(rank));
}

void OpCall::expect_rank_at_least(const std::string& input, int rank) const {
  if (shape(input).rank() < rank) fail_shape(input, "rank >= " + std::to_string(rank));
}

void OpCall::expect_dim(const std::string& input, int axis, int64_t size, const std::string& why) const {
  const Shape& s = shape(input);
  int a = axis < 0 ? s.rank() + axis : axis;
  if (a < 0 || a >= s.rank()) fail_shape(input, "an axis " + std::to_string(axis));
  if (s[a] != size) {
    std::ostringstream os;
    os << "dimension " << a << " = " << size << " (" << why << ")";
    fail_shape(input, os.str());
  }
}

void OpCall::expect_same_shape(const std::string& a, const std::string& b) const {
  if (shape(a) != shape(b)) fail_shape(b, shape(a).str() + " (the shape of '" + a + "')");
}

const std::vector<OpDef>& all_ops() { return registry(); }

const OpDef& find_op(const std::string& name) {
  const auto& ops = registry();
  int i = index_of(ops, name);
  if (i >= 0) return ops[i];
  std::vector<std::string> names;
  for (const auto& op : ops) names.push_back(op.name);
  fail(ErrorCode::kArgument, "unknown op '", name, "'; known ops: ", join_names(names));
}

OpCall make_call(const OpDef& def, const std::vector<std::pair<std::string, AnyTensor>>& inputs,
                 const std::vector<std::pair<std::string, double>>& attrs) {
  OpCall call;
  call.def = &def;
  call.inputs.resize(def.inputs.size());
  bool have_float = false;
  for (const auto& [name, tensor] : inputs) {
    int i = def.input_index(name);
    if (i < 0) {
      std::vector<std::string> names;
      for (const auto& d : def.inputs) names.push_back(d.name);
      fail(ErrorCode::kArgument, def.name, ": unknown input '", name, "'; inputs are: ", join_names(names));
    }
    if (call.inputs[i].defined) fail(ErrorCode::kArgument, def.name, ": input '", name, "' given twice");
    const InputDef& d = def.inputs[i];
    bool ok = (d.kind == ArgKind::kFloat && (tensor.dtype == DType::kF32 || tensor.dtype == DType::kF64)) ||
              (d.kind == ArgKind::kInt32 && tensor.dtype == DType::kI32) ||
              (d.kind == ArgKind::kUInt8 && tensor.dtype == DType::kU8);
    if (!ok)
      fail(ErrorCode::kDType, def.name, ": input '", name, "' is ", dtype_name(tensor.dtype), ", expected ",
           arg_kind_name(d.kind));
    if (d.kind == ArgKind::kFloat) {
      if (have_float && tensor.dtype != call.float_dtype)
        fail(ErrorCode::kDType, def.name, ": input '", name, "' is ", dtype_name(tensor.dtype),
             " but other float inputs are ", dtype_name(call.float_dtype), "; use one float dtype per call");
      call.float_dtype = tensor.dtype;
      have_float = true;
    }
    if (tensor.data == nullptr && tensor.numel() > 0)
      fail(ErrorCode::kArgument, def.name, ": input '", name, "' has no data");
    call.inputs[i].tensor = tensor;
    call.inputs[i].defined = true;
  }
  for (size_t i = 0; i < def.inputs.size(); ++i)
    if (!def.inputs[i].optional && !call.inputs[i].defined)
      fail(ErrorCode::kArgument, def.name, ": missing required input '", def.inputs[i].name, "' ",
           def.inputs[i].shape);

  call.attrs.resize(def.attrs.size());
  std::vector<bool> set(def.attrs.size(), false);
  for (const auto& [name, value] : attrs) {
    int i = def.attr_index(name);
    if (i < 0) {
      std::vector<std::string> names;
      for (const auto& d : def.attrs) names.push_back(d.name);
      fail(ErrorCode::kArgument, def.name, ": unknown attribute '", name, "'",
           names.empty() ? std::string("; this op takes none") : "; attributes are: " + join_names(names));
    }
    if (std::isnan(value)) fail(ErrorCode::kValue, def.name, ": attribute '", name, "' is NaN");
    call.attrs[i] = value;
    set[i] = true;
  }
  for (size_t i = 0; i < def.attrs.size(); ++i) {
    if (set[i]) continue;
    if (def.attrs[i].required())
      fail(ErrorCode::kArgument, def.name, ": missing required attribute '", def.attrs[i].name, "' (",
           def.attrs[i].doc, ")");
    call.attrs[i] = def.attrs[i].default_value;
  }
  for (size_t i = 0; i < def.attrs.size(); ++i)
    if (def.attrs[i].is_integer) call.attr_int(def.attrs[i].name);
  return call;
}

std::vector<Shape> infer_output_shapes(const OpCall& call) {
  const OpDef& def = *call.def;
  std::vector<Shape> shapes = def.infer(call);
  if (shapes.size() != def.outputs.size())
    fail(ErrorCode::kInternal, def.name, ": infer returned ", shapes.size(), " shapes for ", def.outputs.size(),
         " outputs");
  return shapes;
}

void check_finite_inputs(const OpCall& call) {
  const OpDef& def = *call.def;
  for (size_t i = 0; i < def.inputs.size(); ++i) {
    if (!def.inputs[i].check_finite || !call.inputs[i].defined) continue;
    int64_t bad = -1;
    if (!is_finite_tensor(call.inputs[i].tensor, &bad))
      fail(ErrorCode::kValue, def.name, ": input '", def.inputs[i].name, "' has a non-finite value (NaN or Inf) at flat index ",
           bad);
  }
}

std::vector<Shape> validate_call(const OpCall& call) {
  std::vector<Shape> shapes = infer_output_shapes(call);
  check_finite_inputs(call);
  return shapes;
}

DType output_dtype(const OpCall& call, int i) {
  switch (call.def->outputs[i].kind) {
    case ArgKind::kFloat: return call.float_dtype;
    case ArgKind::kInt32: return DType::kI32;
    case ArgKind::kUInt8: return DType::kU8;
  }
  return call.float_dtype;
}

std::vector<OwnedTensor> run_call_owned(const OpCall& call) {
  std::vector<Shape> shapes = validate_call(call);
  std::vector<OwnedTensor> owned(shapes.size());
  std::vector<AnyTensor> views(shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    DType dt = output_dtype(call, static_cast<int>(i));
    owned[i].bytes.assign(static_cast<size_t>(shapes[i].numel() * dtype_size(dt)), 0);
    owned[i].view = AnyTensor{owned[i].bytes.data(), dt, shapes[i]};
    views[i] = owned[i].view;
  }
  call.def->run(call, views);
  return owned;
}

}  // namespace vla
