// Conversions between JavaScript values and the core's types, and vla::Error -> JS Error.
//
// A JS tensor is a plain object { data: TypedArray, shape: number[] } with
// data.length === product(shape). Float32Array, Float64Array, Int32Array and Uint8Array are
// accepted; the data is read in place (no copy).
#pragma once

#include <napi.h>

#include <string>

#include "core/error.h"
#include "core/tensor.h"

namespace vla::napi {

// A JS tensor read in place. `array` keeps the typed array so a caller can hold a reference.
struct JsTensor {
  AnyTensor tensor;
  Napi::TypedArray array;
};

// Reads `value` as a tensor; `what` names it in errors ("rmsnorm: input 'x'").
JsTensor read_tensor(const Napi::Value& value, const std::string& what);

// A new JS typed array of dtype and numel, zero-filled by the engine.
Napi::TypedArray new_typed_array(Napi::Env env, DType dtype, int64_t numel);
// Its data pointer (after any byte offset).
void* typed_array_data(const Napi::TypedArray& a);

Napi::Array shape_to_js(Napi::Env env, const Shape& shape);
Napi::Object tensor_object(Napi::Env env, const Napi::TypedArray& data, const Shape& shape);

// A JS Error with .code (VLA_SHAPE, ...) and, when known, .op.
Napi::Error make_js_error(Napi::Env env, ErrorCode code, const std::string& message, const std::string& op = "");

// Runs fn; a vla::Error or std::exception becomes a pending JS exception (returns undefined).
template <typename F>
Napi::Value guarded(Napi::Env env, F&& fn) {
  try {
    return fn();
  } catch (const Error& e) {
    make_js_error(env, e.code(), e.what()).ThrowAsJavaScriptException();
  } catch (const std::bad_alloc&) {
    make_js_error(env, ErrorCode::kOutOfMemory, "out of memory").ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    make_js_error(env, ErrorCode::kInternal, std::string("internal error: ") + e.what()).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

}  // namespace vla::napi
