#include "napi/js_convert.h"

#include <cmath>

namespace vla::napi {

namespace {

bool dtype_of(napi_typedarray_type t, DType* out) {
  switch (t) {
    case napi_float32_array: *out = DType::kF32; return true;
    case napi_float64_array: *out = DType::kF64; return true;
    case napi_int32_array: *out = DType::kI32; return true;
    case napi_uint8_array: *out = DType::kU8; return true;
    default: return false;
  }
}

const char* typed_array_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "a typed array";
  }
}

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsArray()) return "an Array";
  if (v.IsTypedArray()) return typed_array_name(v.As<Napi::TypedArray>().TypedArrayType());
  if (v.IsNumber()) return "a number";
  if (v.IsString()) return "a string";
  if (v.IsObject()) return "an object";
  return "a value of another type";
}

}  // namespace

JsTensor read_tensor(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject() || value.IsArray() || value.IsTypedArray())
    fail(ErrorCode::kArgument, what, " must be a tensor { data: TypedArray, shape: number[] }, got ", describe(value));
  Napi::Object obj = value.As<Napi::Object>();
  Napi::Value data = obj.Get("data");
  Napi::Value shape = obj.Get("shape");
  if (!data.IsTypedArray())
    fail(ErrorCode::kDType, what, ": data must be a Float32Array, Float64Array, Int32Array or Uint8Array, got ",
         describe(data));
  Napi::TypedArray arr = data.As<Napi::TypedArray>();
  JsTensor out{AnyTensor{}, arr};
  if (!dtype_of(arr.TypedArrayType(), &out.tensor.dtype))
    fail(ErrorCode::kDType, what, ": data is a ", typed_array_name(arr.TypedArrayType()),
         "; supported are Float32Array, Float64Array, Int32Array and Uint8Array");
  if (!shape.IsArray()) fail(ErrorCode::kShape, what, ": shape must be an array of integers, got ", describe(shape));
  Napi::Array dims = shape.As<Napi::Array>();
  if (dims.Length() > static_cast<uint32_t>(Shape::kMaxRank))
    fail(ErrorCode::kShape, what, ": rank ", dims.Length(), " exceeds the maximum ", Shape::kMaxRank);
  double numel = 1;
  for (uint32_t i = 0; i < dims.Length(); ++i) {
    Napi::Value d = dims.Get(i);
    double v = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    if (!d.IsNumber() || v < 0 || v != std::floor(v) || v > 9007199254740991.0)
      fail(ErrorCode::kShape, what, ": shape[", i, "] must be a non-negative integer, got ", describe(d),
           d.IsNumber() ? " " + std::to_string(v) : "");
    out.tensor.shape.push_back(static_cast<int64_t>(v));
    numel *= v;
  }
  if (numel != static_cast<double>(arr.ElementLength()))
    fail(ErrorCode::kShape, what, ": shape ", out.tensor.shape.str(), " holds ", static_cast<int64_t>(numel),
         " elements but data has ", arr.ElementLength());
  out.tensor.data = typed_array_data(arr);
  return out;
}

void* typed_array_data(const Napi::TypedArray& a) {
  Napi::ArrayBuffer buf = a.ArrayBuffer();
  if (buf.Data() == nullptr) return nullptr;
  return static_cast<char*>(buf.Data()) + a.ByteOffset();
}

Napi::TypedArray new_typed_array(Napi::Env env, DType dtype, int64_t numel) {
  size_t n = static_cast<size_t>(numel);
  switch (dtype) {
    case DType::kF32: return Napi::Float32Array::New(env, n);
    case DType::kF64: return Napi::Float64Array::New(env, n);
    case DType::kI32: return Napi::Int32Array::New(env, n);
    case DType::kU8: return Napi::Uint8Array::New(env, n);
  }
  fail(ErrorCode::kInternal, "new_typed_array: bad dtype");
}

Napi::Array shape_to_js(Napi::Env env, const Shape& shape) {
  Napi::Array a = Napi::Array::New(env, shape.rank());
  for (int i = 0; i < shape.rank(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(shape[i])));
  return a;
}

Napi::Object tensor_object(Napi::Env env, const Napi::TypedArray& data, const Shape& shape) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", data);
  o.Set("shape", shape_to_js(env, shape));
  return o;
}

Napi::Error make_js_error(Napi::Env env, ErrorCode code, const std::string& message, const std::string& op) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, error_code_name(code)));
  if (!op.empty()) e.Set("op", Napi::String::New(env, op));
  return e;
}

}  // namespace vla::napi
