// The op registry: one description per op, read by the N-API layer (argument parsing, validation,
// sync and async calls), by the generic gradient-check harness in native/tests, and by the
// TypeScript test table (through listOps()).
//
// An op is a pair of plain functions in native/ops (forward, backward) plus a registration in
// native/registry/register_*.cc that states its inputs, attributes and outputs and how output
// shapes follow from input shapes. Conventions the gradient harness relies on:
// - A forward op names its backward op in `backward`.
// - The backward op takes, by the same names, any forward inputs and saved forward outputs it
//   needs, plus `d<out>` for each differentiable forward output; it returns `d<in>` for each
//   float forward input that has a gradient. Through the registry, gradients are fresh tensors
//   (the plain C++ backward functions accumulate, `+=`, into zeroed outputs).
// - An optional forward input with a gradient (a bias, say) is also an optional input of the
//   backward op, given only to ask for its gradient: when absent, d<in> is an empty tensor ([0]).
// - Float inputs and outputs share one dtype per call, float32 or float64, taken from the inputs.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace vla {

// kFloat means the call's float dtype (float32 or float64).
enum class ArgKind { kFloat, kInt32, kUInt8 };

const char* arg_kind_name(ArgKind k);

struct InputDef {
  std::string name;
  ArgKind kind = ArgKind::kFloat;
  std::string shape;          // documentation, e.g. "[M, K]"
  bool optional = false;
  bool inplace = false;       // updated in place by the op (optimizer state, parameters)
  bool check_finite = false;  // NaN/Inf in this input is rejected with kValue before running
};

struct AttrDef {
  std::string name;
  double default_value = std::numeric_limits<double>::quiet_NaN();  // NaN: required
  std::string doc;
  bool is_integer = false;
  bool required() const { return std::isnan(default_value); }
};

struct OutputDef {
  std::string name;
  ArgKind kind = ArgKind::kFloat;
  std::string shape;            // documentation
  bool differentiable = true;   // false for saved intermediates (rstd, probs) and integer outputs
};

struct OpDef;

// One invocation: inputs in the order of def.inputs (absent optionals are `defined == false`),
// attributes in the order of def.attrs (defaults filled in).
struct OpCall {
  struct Input {
    AnyTensor tensor;
    bool defined = false;
  };

  const OpDef* def = nullptr;
  DType float_dtype = DType::kF32;
  std::vector<Input> inputs;
  std::vector<double> attrs;

  bool has(const std::string& input) const;
  const AnyTensor& in(const std::string& input) const;  // fails if absent
  const Shape& shape(const std::string& input) const { return in(input).shape; }
  double attr(const std::string& name) const;
  int64_t attr_int(const std::string& name) const;
  bool attr_bool(const std::string& name) const { return attr_int(name) != 0; }

  // Validation helpers; each throws kShape naming the op, the input, its shape and the expectation.
  void expect_rank(const std::string& input, int rank) const;
  void expect_rank_at_least(const std::string& input, int rank) const;
  void expect_dim(const std::string& input, int axis, int64_t size, const std::string& why) const;
  void expect_same_shape(const std::string& a, const std::string& b) const;
  [[noreturn]] void fail_shape(const std::string& input, const std::string& expected) const;
  [[noreturn]] void fail_value(const std::string& what) const;
};

using InferFn = std::function<std::vector<Shape>(const OpCall&)>;
using RunFn = std::function<void(const OpCall&, const std::vector<AnyTensor>& outputs)>;

struct OpDef {
  std::string name;
  std::string summary;  // one line: what it computes, with the formula
  std::vector<InputDef> inputs;
  std::vector<AttrDef> attrs;
  std::vector<OutputDef> outputs;
  std::string backward;  // name of the backward op ("" for none)
  // Validates shapes and values and returns each output's shape, in the order of `outputs`.
  InferFn infer;
  // Computes into `outputs` (zero-filled buffers of the inferred shapes and kinds).
  RunFn run;

  int input_index(const std::string& name) const;  // -1 if none
  int attr_index(const std::string& name) const;
  int output_index(const std::string& name) const;
};

// Registry access. Ops are registered once, on first use, by register_builtin_ops().
const OpDef& find_op(const std::string& name);  // fails with kArgument listing the known ops
const std::vector<OpDef>& all_ops();

// Builds an OpCall: checks every input is known, required ones are present, dtypes match their
// kind and the float dtype is common; fills attribute defaults; rejects unknown attributes.
// `inputs` and `attrs` are by name; absent optional inputs are simply not listed.
OpCall make_call(const OpDef& def, const std::vector<std::pair<std::string, AnyTensor>>& inputs,
                 const std::vector<std::pair<std::string, double>>& attrs);

// Runs `infer` (shape and value checks that are cheap). Returns the output shapes.
std::vector<Shape> infer_output_shapes(const OpCall& call);
// Scans the inputs marked check_finite for NaN/Inf: O(n), so async callers run it off the main thread.
void check_finite_inputs(const OpCall& call);
// Both of the above.
std::vector<Shape> validate_call(const OpCall& call);

// Dtype of output `i` for this call.
DType output_dtype(const OpCall& call, int i);

// Convenience for C++ callers and tests: validate, allocate outputs (owned by `storage`), run.
struct OwnedTensor {
  std::vector<unsigned char> bytes;
  AnyTensor view;
};
std::vector<OwnedTensor> run_call_owned(const OpCall& call);

// Calls f(float{}) or f(double{}) for the call's float dtype.
template <typename F>
void dispatch_float(DType dt, F&& f) {
  if (dt == DType::kF32) {
    f(float{});
  } else if (dt == DType::kF64) {
    f(double{});
  } else {
    fail(ErrorCode::kInternal, "dispatch_float on ", dtype_name(dt));
  }
}

// Implemented in register_builtin_ops.cc: each op group adds its ops.
void register_builtin_ops(std::vector<OpDef>& ops);

}  // namespace vla
