// The vla-ttt Node addon: one module, functions only (state lives in the core).
//
// Every function converts vla::Error into a JS Error with .code (see js_convert.h); nothing
// throws across this boundary. Long calls are AsyncWorkers returning Promises.
#include <napi.h>

#include <cstring>

#include "core/build_info.h"
#include "core/cpu_features.h"
#include "core/random.h"
#include "core/thread_pool.h"
#include "ops/gemm.h"
#include "napi/device_policy.h"
#include "napi/js_convert.h"
#include "napi/op_binding.h"
#include "napi/policy_binding.h"
#include "napi/render_binding.h"

namespace vla::napi {

namespace {

Napi::Value build_info_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    BuildInfo b = build_info();
    Napi::Object o = Napi::Object::New(env);
    o.Set("version", b.version);
    o.Set("compiler", b.compiler);
    o.Set("buildType", b.build_type);
    o.Set("buildSystem", b.build_system);
    o.Set("blas", b.blas);
    o.Set("cuda", b.cuda);
    o.Set("hasOpenblas", b.has_openblas);
    o.Set("hasCuda", b.has_cuda);
    o.Set("hasCublas", b.has_cublas);
    o.Set("napiVersion", NAPI_VERSION);
    return o;
  });
}

Napi::Value cuda_status_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    // The addon's view: the emulated test addon presents its CPU emulator as the device.
    CudaStatus s = device_status();
    Napi::Object o = Napi::Object::New(env);
    o.Set("backend", device_backend_name(device_backend()));
    o.Set("available", s.available);
    o.Set("deviceCount", s.device_count);
    o.Set("deviceName", s.device_name);
    o.Set("reason", s.reason);
    return o;
  });
}

Napi::Value cpu_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    Napi::Object o = Napi::Object::New(env);
    o.Set("hardwareIsa", isa_name(hardware_isa()));
    o.Set("activeIsa", isa_name(active_isa()));
    o.Set("cpus", available_cpus());
    o.Set("threads", num_threads());
    return o;
  });
}

Napi::Value set_num_threads_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsNumber())
      fail(ErrorCode::kArgument, "setNumThreads(n): n must be an integer in [1, 1024]");
    double n = info[0].As<Napi::Number>().DoubleValue();
    if (n != static_cast<int>(n)) fail(ErrorCode::kArgument, "setNumThreads(n): n must be an integer, got ", n);
    set_num_threads(static_cast<int>(n));
    return env.Undefined();
  });
}

Napi::Value set_isa_cap_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::string s = info.Length() >= 1 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    if (s == "generic") set_isa_cap(Isa::kGeneric);
    else if (s == "avx2") set_isa_cap(Isa::kAvx2);
    else if (s == "avx512") set_isa_cap(Isa::kAvx512);
    else fail(ErrorCode::kArgument, "setIsaCap(isa): isa must be 'generic', 'avx2' or 'avx512', got '", s, "'");
    return env.Undefined();
  });
}

Napi::Value gemm_backend_js(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), gemm_backend_name()); });
}

Napi::Value set_gemm_backend_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::string s = info.Length() >= 1 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    if (s == "auto") set_gemm_backend(GemmBackend::kAuto);
    else if (s == "own") set_gemm_backend(GemmBackend::kOwn);
    else if (s == "openblas") set_gemm_backend(GemmBackend::kOpenBlas);
    else fail(ErrorCode::kArgument, "setGemmBackend(name): name must be 'auto', 'own' or 'openblas', got '", s, "'");
    return env.Undefined();
  });
}

uint64_t read_u64(const Napi::Value& v, const char* what) {
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) fail(ErrorCode::kArgument, what, " must fit in 64 unsigned bits");
    return x;
  }
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d < 0 || d != static_cast<double>(static_cast<uint64_t>(d)) || d > 9007199254740991.0)
      fail(ErrorCode::kArgument, what, " must be a non-negative safe integer or a bigint, got ", d);
    return static_cast<uint64_t>(d);
  }
  fail(ErrorCode::kArgument, what, " must be a non-negative integer or a bigint");
}

// fillRandom(array: Float32Array | Float64Array, distribution: 'normal' | 'uniform', seed, stream, offset)
// Element i gets draw (offset + i) of Philox stream (seed, stream): the same numbers the native
// code draws for the same (seed, stream, index).
Napi::Value fill_random_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (info.Length() < 5 || !info[0].IsTypedArray() || !info[1].IsString())
      fail(ErrorCode::kArgument, "fillRandom(array, distribution, seed, stream, offset): wrong arguments");
    Napi::TypedArray arr = info[0].As<Napi::TypedArray>();
    std::string dist = info[1].As<Napi::String>().Utf8Value();
    if (dist != "normal" && dist != "uniform")
      fail(ErrorCode::kArgument, "fillRandom: distribution must be 'normal' or 'uniform', got '", dist, "'");
    bool normal = dist == "normal";
    Rng rng(read_u64(info[2], "seed"), read_u64(info[3], "stream"));
    uint64_t offset = read_u64(info[4], "offset");
    size_t n = arr.ElementLength();
    void* data = typed_array_data(arr);
    if (arr.TypedArrayType() == napi_float32_array) {
      float* p = static_cast<float*>(data);
      for (size_t i = 0; i < n; ++i) p[i] = static_cast<float>(normal ? rng.normal_at(offset + i) : rng.uniform_at(offset + i));
    } else if (arr.TypedArrayType() == napi_float64_array) {
      double* p = static_cast<double*>(data);
      for (size_t i = 0; i < n; ++i) p[i] = normal ? rng.normal_at(offset + i) : rng.uniform_at(offset + i);
    } else {
      fail(ErrorCode::kDType, "fillRandom: array must be a Float32Array or Float64Array");
    }
    return env.Undefined();
  });
}

// reportedExternalMemory() -> the bytes native code has reported to this JS environment's engine
// with AdjustExternalMemory (policies report their parameters, optimizer state and workspaces).
// V8 returns the running total for a change of 0. process.memoryUsage().external does not include
// it on Node 20 (it counts ArrayBuffer backing stores), hence this getter.
Napi::Value reported_external_memory_js(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Napi::MemoryManagement::AdjustExternalMemory(info.Env(), 0)));
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("runOp", Napi::Function::New(env, run_op, "runOp"));
  exports.Set("runOpAsync", Napi::Function::New(env, run_op_async, "runOpAsync"));
  exports.Set("listOps", Napi::Function::New(env, list_ops, "listOps"));
  exports.Set("buildInfo", Napi::Function::New(env, build_info_js, "buildInfo"));
  exports.Set("cudaStatus", Napi::Function::New(env, cuda_status_js, "cudaStatus"));
  exports.Set("cpu", Napi::Function::New(env, cpu_js, "cpu"));
  exports.Set("setNumThreads", Napi::Function::New(env, set_num_threads_js, "setNumThreads"));
  exports.Set("setIsaCap", Napi::Function::New(env, set_isa_cap_js, "setIsaCap"));
  exports.Set("gemmBackend", Napi::Function::New(env, gemm_backend_js, "gemmBackend"));
  exports.Set("setGemmBackend", Napi::Function::New(env, set_gemm_backend_js, "setGemmBackend"));
  exports.Set("fillRandom", Napi::Function::New(env, fill_random_js, "fillRandom"));
  exports.Set("reportedExternalMemory", Napi::Function::New(env, reported_external_memory_js, "reportedExternalMemory"));
  exports.Set("renderBatch", Napi::Function::New(env, render_batch_js, "renderBatch"));
  exports.Set("renderBatchAsync", Napi::Function::New(env, render_batch_async_js, "renderBatchAsync"));
  init_policy_binding(env, exports);
  return exports;
}

}  // namespace vla::napi

// NODE_API_MODULE pastes the function name into an identifier, so it needs an unqualified name.
static Napi::Object InitVlaTtt(Napi::Env env, Napi::Object exports) { return vla::napi::init(env, exports); }
NODE_API_MODULE(vla_ttt, InitVlaTtt)
