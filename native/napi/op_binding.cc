#include "napi/op_binding.h"

#include <utility>
#include <vector>

#include "napi/js_convert.h"
#include "registry/op_registry.h"

namespace vla::napi {

namespace {

// An op call read from JS, validated, with its outputs allocated as JS typed arrays that the
// kernels write into directly (no copy on return).
struct PreparedCall {
  OpCall call;
  std::vector<Napi::TypedArray> input_arrays;
  std::vector<Napi::TypedArray> output_arrays;
  std::vector<AnyTensor> outputs;
};

std::string op_name_arg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString())
    fail(ErrorCode::kArgument, "runOp: the first argument must be the op name (a string)");
  return info[0].As<Napi::String>().Utf8Value();
}

PreparedCall prepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const OpDef& def = find_op(op_name_arg(info));
  PreparedCall p;

  std::vector<std::pair<std::string, AnyTensor>> inputs;
  if (info.Length() >= 2 && !info[1].IsUndefined()) {
    if (!info[1].IsObject() || info[1].IsArray())
      fail(ErrorCode::kArgument, def.name, ": inputs must be an object { name: tensor }");
    Napi::Object obj = info[1].As<Napi::Object>();
    Napi::Array keys = obj.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
      Napi::Value v = obj.Get(key);
      if (v.IsUndefined()) continue;  // an optional input left out by a TS caller
      JsTensor t = read_tensor(v, def.name + ": input '" + key + "'");
      p.input_arrays.push_back(t.array);
      inputs.push_back({key, t.tensor});
    }
  }
  std::vector<std::pair<std::string, double>> attrs;
  if (info.Length() >= 3 && !info[2].IsUndefined()) {
    if (!info[2].IsObject() || info[2].IsArray())
      fail(ErrorCode::kArgument, def.name, ": attributes must be an object { name: number }");
    Napi::Object obj = info[2].As<Napi::Object>();
    Napi::Array keys = obj.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
      Napi::Value v = obj.Get(key);
      if (v.IsUndefined()) continue;
      if (v.IsBoolean()) {
        attrs.push_back({key, v.As<Napi::Boolean>().Value() ? 1.0 : 0.0});
      } else if (v.IsNumber()) {
        attrs.push_back({key, v.As<Napi::Number>().DoubleValue()});
      } else {
        fail(ErrorCode::kArgument, def.name, ": attribute '", key, "' must be a number or a boolean");
      }
    }
  }

  p.call = make_call(def, inputs, attrs);
  std::vector<Shape> shapes = infer_output_shapes(p.call);
  for (size_t i = 0; i < shapes.size(); ++i) {
    DType dt = output_dtype(p.call, static_cast<int>(i));
    Napi::TypedArray arr = new_typed_array(env, dt, shapes[i].numel());
    p.output_arrays.push_back(arr);
    p.outputs.push_back(AnyTensor{typed_array_data(arr), dt, shapes[i]});
  }
  return p;
}

Napi::Object result_object(Napi::Env env, const OpDef& def, const std::vector<Napi::TypedArray>& arrays,
                           const std::vector<AnyTensor>& outputs) {
  Napi::Object result = Napi::Object::New(env);
  for (size_t i = 0; i < outputs.size(); ++i)
    result.Set(def.outputs[i].name, tensor_object(env, arrays[i], outputs[i].shape));
  return result;
}

// Runs the op on a libuv worker thread; inputs and outputs stay referenced (so the garbage
// collector keeps them) until the promise settles.
class OpWorker : public Napi::AsyncWorker {
 public:
  OpWorker(Napi::Env env, PreparedCall&& p)
      : Napi::AsyncWorker(env, "vla-ttt:op"), prepared_(std::move(p)), deferred_(Napi::Promise::Deferred::New(env)) {
    for (auto& a : prepared_.input_arrays) input_refs_.push_back(Napi::Persistent(a));
    for (auto& a : prepared_.output_arrays) output_refs_.push_back(Napi::Persistent(a));
  }

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      check_finite_inputs(prepared_.call);
      prepared_.call.def->run(prepared_.call, prepared_.outputs);
    } catch (const Error& e) {
      code_ = e.code();
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      code_ = ErrorCode::kOutOfMemory;
      SetError(prepared_.call.def->name + ": out of memory");
    } catch (const std::exception& e) {
      code_ = ErrorCode::kInternal;
      SetError(std::string("internal error: ") + e.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    std::vector<Napi::TypedArray> arrays;
    for (auto& r : output_refs_) arrays.push_back(r.Value());
    deferred_.Resolve(result_object(env, *prepared_.call.def, arrays, prepared_.outputs));
  }

  void OnError(const Napi::Error& e) override {
    deferred_.Reject(make_js_error(Env(), code_, e.Message(), prepared_.call.def->name).Value());
  }

 private:
  PreparedCall prepared_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::Reference<Napi::TypedArray>> input_refs_;
  std::vector<Napi::Reference<Napi::TypedArray>> output_refs_;
  ErrorCode code_ = ErrorCode::kInternal;
};

Napi::Object describe_op(Napi::Env env, const OpDef& op) {
  auto kind = [](ArgKind k) { return k == ArgKind::kFloat ? "float" : k == ArgKind::kInt32 ? "int32" : "uint8"; };
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", op.name);
  o.Set("summary", op.summary);
  Napi::Array inputs = Napi::Array::New(env, op.inputs.size());
  for (size_t i = 0; i < op.inputs.size(); ++i) {
    const InputDef& d = op.inputs[i];
    Napi::Object x = Napi::Object::New(env);
    x.Set("name", d.name);
    x.Set("kind", kind(d.kind));
    x.Set("shape", d.shape);
    x.Set("optional", d.optional);
    x.Set("inplace", d.inplace);
    x.Set("checkFinite", d.check_finite);
    inputs.Set(static_cast<uint32_t>(i), x);
  }
  o.Set("inputs", inputs);
  Napi::Array attrs = Napi::Array::New(env, op.attrs.size());
  for (size_t i = 0; i < op.attrs.size(); ++i) {
    const AttrDef& a = op.attrs[i];
    Napi::Object x = Napi::Object::New(env);
    x.Set("name", a.name);
    x.Set("default", a.required() ? env.Null() : Napi::Number::New(env, a.default_value));
    x.Set("doc", a.doc);
    x.Set("integer", a.is_integer);
    attrs.Set(static_cast<uint32_t>(i), x);
  }
  o.Set("attrs", attrs);
  Napi::Array outputs = Napi::Array::New(env, op.outputs.size());
  for (size_t i = 0; i < op.outputs.size(); ++i) {
    const OutputDef& d = op.outputs[i];
    Napi::Object x = Napi::Object::New(env);
    x.Set("name", d.name);
    x.Set("kind", kind(d.kind));
    x.Set("shape", d.shape);
    x.Set("differentiable", d.differentiable);
    outputs.Set(static_cast<uint32_t>(i), x);
  }
  o.Set("outputs", outputs);
  o.Set("backward", op.backward.empty() ? env.Null() : Napi::String::New(env, op.backward));
  return o;
}

}  // namespace

Napi::Value run_op(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    PreparedCall p = prepare(info);
    check_finite_inputs(p.call);
    p.call.def->run(p.call, p.outputs);
    return result_object(env, *p.call.def, p.output_arrays, p.outputs);
  });
}

Napi::Value run_op_async(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Argument errors reject the promise rather than throw, like any async function.
  try {
    PreparedCall p = prepare(info);
    auto* worker = new OpWorker(env, std::move(p));
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  } catch (const Error& e) {
    auto d = Napi::Promise::Deferred::New(env);
    std::string op = info.Length() >= 1 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    d.Reject(make_js_error(env, e.code(), e.what(), op).Value());
    return d.Promise();
  } catch (const std::exception& e) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(make_js_error(env, ErrorCode::kInternal, std::string("internal error: ") + e.what()).Value());
    return d.Promise();
  }
}

Napi::Value list_ops(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const auto& ops = all_ops();
    Napi::Array a = Napi::Array::New(env, ops.size());
    for (size_t i = 0; i < ops.size(); ++i) a.Set(static_cast<uint32_t>(i), describe_op(env, ops[i]));
    return a;
  });
}

}  // namespace vla::napi
