#include "napi/render_binding.h"

#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "napi/js_convert.h"
#include "render/render_batch.h"

namespace vla::napi {

namespace {

// The JS arrays of one call, read and size-checked, with the view the renderer reads.
struct PreparedRender {
  render::SceneBatchView view;
  render::RenderOptions options;
  std::vector<Napi::TypedArray> inputs;  // kept referenced by the async worker
  Napi::Uint8Array output;
};

const char* kFn = "renderBatch";

template <typename T>
const T* read_array(const Napi::Object& batch, const char* field, napi_typedarray_type want, const char* want_name,
                    int64_t expected_len, const char* len_rule, std::vector<Napi::TypedArray>* keep) {
  Napi::Value v = batch.Get(field);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != want)
    fail(ErrorCode::kDType, kFn, ": batch.", field, " must be a ", want_name);
  Napi::TypedArray arr = v.As<Napi::TypedArray>();
  if (static_cast<int64_t>(arr.ElementLength()) != expected_len)
    fail(ErrorCode::kShape, kFn, ": batch.", field, " has ", arr.ElementLength(), " elements, expected ", len_rule,
         " = ", expected_len);
  keep->push_back(arr);
  return static_cast<const T*>(typed_array_data(arr));
}

int read_int_option(const Napi::Object& options, const char* name, int fallback, int lo, int hi) {
  Napi::Value v = options.Get(name);
  if (v.IsUndefined()) {
    if (fallback < 0) fail(ErrorCode::kArgument, kFn, ": options.", name, " is required");
    return fallback;
  }
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!v.IsNumber() || d != static_cast<double>(static_cast<int64_t>(d)) || d < lo || d > hi)
    fail(ErrorCode::kArgument, kFn, ": options.", name, " must be an integer in [", lo, ", ", hi, "]",
         v.IsNumber() ? ", got " + std::to_string(d) : std::string(""));
  return static_cast<int>(d);
}

PreparedRender prepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || info[0].IsArray() || !info[1].IsObject() || info[1].IsArray())
    fail(ErrorCode::kArgument, kFn, "(batch, options): batch must be a packed scene batch and options an object { width, height, supersample? }");
  Napi::Object batch = info[0].As<Napi::Object>();
  Napi::Object opts = info[1].As<Napi::Object>();
  PreparedRender p;
  p.options.width = read_int_option(opts, "width", -1, 1, render::kMaxImageSide);
  p.options.height = read_int_option(opts, "height", -1, 1, render::kMaxImageSide);
  p.options.supersample = read_int_option(opts, "supersample", 1, 1, render::kMaxSupersample);
  Napi::Value pool = opts.Get("threadPool");
  if (!pool.IsUndefined() && !pool.IsBoolean()) fail(ErrorCode::kArgument, kFn, ": options.threadPool must be a boolean");
  p.options.use_thread_pool = pool.IsUndefined() || pool.As<Napi::Boolean>().Value();

  Napi::Value offsets = batch.Get("geomOffsets");
  if (!offsets.IsTypedArray() || offsets.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    fail(ErrorCode::kDType, kFn, ": batch.geomOffsets must be an Int32Array");
  int64_t offsets_len = static_cast<int64_t>(offsets.As<Napi::TypedArray>().ElementLength());
  if (offsets_len < 1) fail(ErrorCode::kShape, kFn, ": batch.geomOffsets must hold B + 1 >= 1 elements, got 0");
  const int64_t B = offsets_len - 1;
  Napi::Value types = batch.Get("type");
  if (!types.IsTypedArray()) fail(ErrorCode::kDType, kFn, ": batch.type must be an Int32Array");
  const int64_t G = static_cast<int64_t>(types.As<Napi::TypedArray>().ElementLength());

  render::SceneBatchView& v = p.view;
  v.num_scenes = B;
  v.num_geoms = G;
  auto* keep = &p.inputs;
  v.geom_offsets = read_array<int32_t>(batch, "geomOffsets", napi_int32_array, "Int32Array", B + 1, "B + 1", keep);
  v.type = read_array<int32_t>(batch, "type", napi_int32_array, "Int32Array", G, "G", keep);
  v.size = read_array<float>(batch, "size", napi_float32_array, "Float32Array", G * 3, "G * 3", keep);
  v.pos = read_array<float>(batch, "pos", napi_float32_array, "Float32Array", G * 3, "G * 3", keep);
  v.mat = read_array<float>(batch, "mat", napi_float32_array, "Float32Array", G * 9, "G * 9", keep);
  v.rgba = read_array<float>(batch, "rgba", napi_float32_array, "Float32Array", G * 4, "G * 4", keep);
  v.texture = read_array<int32_t>(batch, "texture", napi_int32_array, "Int32Array", G, "G", keep);
  v.tex_params = read_array<float>(batch, "texParams", napi_float32_array, "Float32Array", G * 4, "G * 4", keep);
  v.cameras = read_array<float>(batch, "cameras", napi_float32_array, "Float32Array", B * 10, "B * 10", keep);
  v.lights = read_array<float>(batch, "lights", napi_float32_array, "Float32Array", B * 10, "B * 10", keep);
  v.background = read_array<float>(batch, "background", napi_float32_array, "Float32Array", B * 3, "B * 3", keep);

  int64_t out_len = render::rendered_size(v, p.options);
  Napi::Value out = opts.Get("out");
  if (out.IsUndefined()) {
    p.output = Napi::Uint8Array::New(env, static_cast<size_t>(out_len));
  } else {
    if (!out.IsTypedArray() || out.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      fail(ErrorCode::kDType, kFn, ": options.out must be a Uint8Array");
    p.output = out.As<Napi::Uint8Array>();
    if (static_cast<int64_t>(p.output.ElementLength()) != out_len)
      fail(ErrorCode::kShape, kFn, ": options.out has ", p.output.ElementLength(), " bytes, expected B * H * W * 3 = ", B,
           " * ", p.options.height, " * ", p.options.width, " * 3 = ", out_len);
  }
  return p;
}

uint8_t* output_data(const Napi::Uint8Array& a) { return static_cast<uint8_t*>(typed_array_data(a)); }

// Draws on a libuv worker thread; every input array and the output stay referenced (the
// garbage collector keeps them) until the promise settles.
class RenderWorker : public Napi::AsyncWorker {
 public:
  RenderWorker(Napi::Env env, PreparedRender&& p)
      : Napi::AsyncWorker(env, "vla-ttt:render"), prepared_(std::move(p)), deferred_(Napi::Promise::Deferred::New(env)) {
    for (auto& a : prepared_.inputs) input_refs_.push_back(Napi::Persistent(a));
    output_ref_ = Napi::Persistent(prepared_.output);
    out_ = output_data(prepared_.output);
  }

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      render::render_batch(prepared_.view, prepared_.options, out_);
    } catch (const Error& e) {
      code_ = e.code();
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      code_ = ErrorCode::kOutOfMemory;
      SetError(std::string(kFn) + ": out of memory");
    } catch (const std::exception& e) {
      code_ = ErrorCode::kInternal;
      SetError(std::string("internal error: ") + e.what());
    }
  }

  void OnOK() override { deferred_.Resolve(output_ref_.Value()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(make_js_error(Env(), code_, e.Message()).Value()); }

 private:
  PreparedRender prepared_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::Reference<Napi::TypedArray>> input_refs_;
  Napi::Reference<Napi::Uint8Array> output_ref_;
  uint8_t* out_ = nullptr;
  ErrorCode code_ = ErrorCode::kInternal;
};

}  // namespace

Napi::Value render_batch_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    PreparedRender p = prepare(info);
    render::render_batch(p.view, p.options, output_data(p.output));
    return p.output;
  });
}

Napi::Value render_batch_async_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Argument errors reject the promise rather than throw, like any async function.
  try {
    PreparedRender p = prepare(info);
    auto* worker = new RenderWorker(env, std::move(p));
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  } catch (const Error& e) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(make_js_error(env, e.code(), e.what()).Value());
    return d.Promise();
  } catch (const std::exception& e) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(make_js_error(env, ErrorCode::kInternal, std::string("internal error: ") + e.what()).Value());
    return d.Promise();
  }
}

}  // namespace vla::napi
