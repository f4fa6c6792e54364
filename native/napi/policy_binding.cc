// NativePolicy wraps Policy<float> (production) or Policy<double> (the float64 reference used
// by the TypeScript gradient checks). Every call locks the policy: synchronous calls fail fast
// with "busy" instead of blocking the event loop while an asynchronous call runs; asynchronous
// calls wait their turn on a worker thread.
//
// Observations are { batch, images: Uint8Array [B*S*S*3], text: Int32Array [B*L],
// state: Float32Array|Float64Array [B*state_dim], embodiment: Int32Array [B] }; float arrays use
// the policy's dtype. Arrays are read in place and stay referenced until an async call settles.
// A progress critic (head 'progress') takes { batch, images [B*frames*S*S*3], text [B*L] } in its
// own calls (progress, progressAsync, progressStep, progressStepAsync); each head's calls fail on
// the other head's model.
//
// A float32 policy can be placed on device 'cuda' (toDevice): act, promptStep and trainStep (and
// their async forms) then run on its device twin (device_policy.h), every other op that computes
// with the weights fails naming itself and saying it runs on the CPU, and getParams / save read
// the device's weights back first.
#include "napi/policy_binding.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <functional>
#include <memory>
#include <type_traits>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/json.h"
#include "model/checkpoint.h"
#include "model/flow_draws.h"
#include "model/policy.h"
#include "napi/device_policy.h"
#include "napi/js_convert.h"

namespace vla::napi {

namespace {

// ---- argument reading --------------------------------------------------------------------------

struct Keep {
  std::vector<Napi::TypedArray> arrays;
};

template <typename E>
napi_typedarray_type typed_array_type_of();
template <> napi_typedarray_type typed_array_type_of<float>() { return napi_float32_array; }
template <> napi_typedarray_type typed_array_type_of<double>() { return napi_float64_array; }
template <> napi_typedarray_type typed_array_type_of<int32_t>() { return napi_int32_array; }
template <> napi_typedarray_type typed_array_type_of<uint8_t>() { return napi_uint8_array; }

template <typename E>
const char* typed_array_name_of();
template <> const char* typed_array_name_of<float>() { return "Float32Array"; }
template <> const char* typed_array_name_of<double>() { return "Float64Array"; }
template <> const char* typed_array_name_of<int32_t>() { return "Int32Array"; }
template <> const char* typed_array_name_of<uint8_t>() { return "Uint8Array"; }

// obj[field] as a typed array of E with exactly `len` elements; null if absent and optional.
template <typename E>
const E* read_array(const Napi::Object& obj, const std::string& what, const char* field, int64_t len, const std::string& rule,
                    Keep& keep, bool optional = false) {
  Napi::Value v = obj.Get(field);
  if (v.IsUndefined() || v.IsNull()) {
    if (optional) return nullptr;
    fail(ErrorCode::kArgument, what, ": '", field, "' is required (a ", typed_array_name_of<E>(), " of ", rule, " = ", len, ")");
  }
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != typed_array_type_of<E>())
    fail(ErrorCode::kDType, what, ": '", field, "' must be a ", typed_array_name_of<E>());
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  if (static_cast<int64_t>(a.ElementLength()) != len)
    fail(ErrorCode::kShape, what, ": '", field, "' has ", a.ElementLength(), " elements, expected ", rule, " = ", len);
  keep.arrays.push_back(a);
  return static_cast<const E*>(typed_array_data(a));
}

// `lo_open`: lo itself is excluded (a learning rate of 0 would be a step that silently does nothing).
double read_number(const Napi::Object& o, const std::string& what, const char* field, double fallback, double lo, double hi,
                   bool lo_open = false) {
  Napi::Value v = o.Get(field);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) fail(ErrorCode::kArgument, what, ": '", field, "' must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(lo_open ? d > lo : d >= lo) || !(d <= hi))
    fail(ErrorCode::kValue, what, ": '", field, "' = ", d, " is not in ", lo_open ? "(" : "[", lo, ", ", hi, "]");
  return d;
}

const char* non_finite_name(double v) { return std::isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity"; }

// Every element of a float input finite (and, for times, in [lo, hi]): NaN or Inf from the caller
// would otherwise flow through the model into garbage actions or a late "non-finite gradient".
template <typename E>
void check_values(const E* data, int64_t n, const std::string& what, const char* field, double lo = -HUGE_VAL,
                  double hi = HUGE_VAL) {
  if (!data) return;
  for (int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(data[i]);
    if (!std::isfinite(v)) fail(ErrorCode::kValue, what, ": '", field, "'[", i, "] is ", non_finite_name(v));
    if (v < lo || v > hi) fail(ErrorCode::kValue, what, ": '", field, "'[", i, "] = ", v, " is not in [", lo, ", ", hi, "]");
  }
}

// read_array for float inputs whose values must be finite (and within [lo, hi]).
template <typename E>
const E* read_values(const Napi::Object& obj, const std::string& what, const char* field, int64_t len, const std::string& rule,
                     Keep& keep, bool optional = false, double lo = -HUGE_VAL, double hi = HUGE_VAL) {
  const E* data = read_array<E>(obj, what, field, len, rule, keep, optional);
  check_values(data, len, what, field, lo, hi);
  return data;
}

bool read_bool(const Napi::Object& o, const std::string& what, const char* field, bool fallback) {
  Napi::Value v = o.Get(field);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) fail(ErrorCode::kArgument, what, ": '", field, "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

Napi::Object read_object(const Napi::CallbackInfo& info, size_t i, const std::string& what, const char* name, bool optional = false) {
  if (info.Length() <= i || info[i].IsUndefined()) {
    if (optional) return Napi::Object::New(info.Env());
    fail(ErrorCode::kArgument, what, ": argument '", name, "' is required");
  }
  if (!info[i].IsObject() || info[i].IsArray() || info[i].IsTypedArray())
    fail(ErrorCode::kArgument, what, ": argument '", name, "' must be an object");
  return info[i].As<Napi::Object>();
}

uint64_t read_seed(const Napi::Object& o, const std::string& what, const char* field, uint64_t fallback) {
  Napi::Value v = o.Get(field);
  if (v.IsUndefined()) return fallback;
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t s = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) fail(ErrorCode::kValue, what, ": '", field, "' does not fit in 64 bits");
    return s;
  }
  double d = read_number(o, what, field, 0, 0, 9007199254740991.0);
  if (d != static_cast<double>(static_cast<uint64_t>(d))) fail(ErrorCode::kValue, what, ": '", field, "' must be an integer");
  return static_cast<uint64_t>(d);
}

std::vector<ParamGroup> read_groups(const Napi::Object& o, const std::string& what, std::vector<ParamGroup> fallback) {
  Napi::Value v = o.Get("groups");
  if (v.IsUndefined()) return fallback;
  if (!v.IsArray()) fail(ErrorCode::kArgument, what, ": 'groups' must be an array of group names");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<ParamGroup> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value x = a.Get(i);
    std::string s = x.IsString() ? x.As<Napi::String>().Utf8Value() : "";
    bool found = false;
    for (ParamGroup g : {ParamGroup::kEmbed, ParamGroup::kPrompt, ParamGroup::kBackbone, ParamGroup::kAction, ParamGroup::kState,
                         ParamGroup::kProgress})
      if (s == param_group_name(g)) {
        out.push_back(g);
        found = true;
      }
    if (!found)
      fail(ErrorCode::kValue, what, ": unknown parameter group '", s, "' (embed, prompt, backbone, action, state, progress)");
  }
  if (out.empty()) fail(ErrorCode::kValue, what, ": 'groups' is empty: nothing would train");
  return out;
}

template <typename T>
struct ObsArgs {
  ObsBatch<T> batch;
};

// Each head's calls on the other head's model fail first, naming the kind of model (the core
// checks again; here an async call rejects before it is queued).
void require_head(const ModelConfig& c, const std::string& what, bool progress) {
  if (progress && !c.is_progress())
    fail(ErrorCode::kArgument, what, ": this model is a policy (head 'policy'); progress calls need a progress critic (head 'progress')");
  if (!progress && c.is_progress())
    fail(ErrorCode::kArgument, what,
         ": this model is a progress critic (head 'progress'); use progress() / progressStep() (ProgressCritic in TypeScript)");
}

// `progress`: a progress critic's call ({ batch, images [B*frames*S*S*3], text }).
template <typename T>
ObsBatch<T> read_obs(const ModelConfig& c, const Napi::Object& o, const std::string& what, Keep& keep, bool progress = false) {
  require_head(c, what, progress);
  ObsBatch<T> b;
  const double batch = read_number(o, what, "batch", -1, 1, 1 << 20);
  if (batch < 1) fail(ErrorCode::kArgument, what, ": 'batch' (the number of observations) is required");
  if (batch != std::floor(batch)) fail(ErrorCode::kValue, what, ": 'batch' must be an integer, got ", batch);
  b.B = static_cast<int64_t>(batch);
  const int64_t S = c.image_size;
  const int64_t L = c.max_text_len;
  if (progress) {
    const std::string rule = "batch * frames * " + std::to_string(S) + " * " + std::to_string(S) + " * 3";
    b.images = read_array<uint8_t>(o, what, "images", b.B * c.frames * S * S * 3, rule, keep);
    b.text = read_array<int32_t>(o, what, "text", b.B * L, "batch * max_text_len", keep);
    for (int64_t i = 0; i < b.B; ++i)
      for (int64_t j = 0; j < L; ++j) {
        const int32_t id = b.text[i * L + j];
        if (id < 0 || id >= c.vocab_size)
          fail(ErrorCode::kValue, what, ": text[", i, ", ", j, "] = ", id, " is outside the vocabulary [0, ", c.vocab_size, ")");
      }
    return b;
  }
  const int64_t E = c.depth * 2 * c.obs_len() * c.kv_dim();
  // Observation encodings (optional) stand in for the images.
  b.encodings = read_values<T>(o, what, "encodings", b.B * E, "batch * encodingSize() = batch * " + std::to_string(E), keep, true);
  const std::string frames = c.frames == 1 ? std::string() : "frames * ";
  b.images = read_array<uint8_t>(o, what, "images", b.B * c.frames * S * S * 3,
                                 "batch * " + frames + std::to_string(S) + " * " + std::to_string(S) + " * 3", keep,
                                 b.encodings != nullptr);
  b.text = read_array<int32_t>(o, what, "text", b.B * c.max_text_len, "batch * max_text_len", keep);
  b.state = read_array<T>(o, what, "state", b.B * c.state_dim, "batch * state_dim", keep);
  b.embodiment = read_array<int32_t>(o, what, "embodiment", b.B, "batch", keep);
  // The core validates these too (Policy::validate); checking here, on the main thread, names the
  // call in the message and makes an async call reject before it is queued.
  for (int64_t i = 0; i < b.B; ++i) {
    const int32_t e = b.embodiment[i];
    if (e < 0 || e >= c.num_embodiments)
      fail(ErrorCode::kValue, what, ": embodiment[", i, "] = ", e, " is not a known embodiment id (0..", c.num_embodiments - 1, ")");
    for (int64_t j = 0; j < L; ++j) {
      const int32_t id = b.text[i * L + j];
      if (id < 0 || id >= c.vocab_size)
        fail(ErrorCode::kValue, what, ": text[", i, ", ", j, "] = ", id, " is outside the vocabulary [0, ", c.vocab_size, ")");
    }
    for (int64_t k = 0; k < c.state_dim; ++k) {
      const double v = static_cast<double>(b.state[i * c.state_dim + k]);
      if (!std::isfinite(v)) fail(ErrorCode::kValue, what, ": state[", i, ", ", k, "] is ", non_finite_name(v));
    }
  }
  return b;
}

AdamWHyper read_adam(const Napi::Object& o, const std::string& what, double default_lr, double default_wd) {
  AdamWHyper h;
  h.lr = read_number(o, what, "lr", default_lr, 0, 10, true);
  h.beta1 = read_number(o, what, "beta1", 0.9, 0, 0.999999);
  h.beta2 = read_number(o, what, "beta2", 0.999, 0, 0.99999999);
  h.eps = read_number(o, what, "eps", 1e-8, 1e-30, 1);
  h.weight_decay = read_number(o, what, "weightDecay", default_wd, 0, 10);
  return h;
}

Napi::Float64Array to_js(Napi::Env env, const std::vector<double>& v) {
  Napi::Float64Array a = Napi::Float64Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) a[i] = v[i];
  return a;
}

// A progress critic's step: { loss, perSample (unweighted), gradNorm, clipped, step }.
Napi::Object progress_step_object(Napi::Env env, const StepResult& r, int64_t step) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loss", r.loss.progress);
  o.Set("perSample", to_js(env, r.loss.progress_per_sample));
  o.Set("gradNorm", r.grad_norm);
  o.Set("clipped", r.clipped);
  o.Set("step", static_cast<double>(step));
  return o;
}

Napi::Object loss_object(Napi::Env env, const LossResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("total", r.total);
  o.Set("action", r.action);
  o.Set("state", r.state);
  o.Set("actionPerSample", to_js(env, r.action_per_sample));
  o.Set("statePerSample", to_js(env, r.state_per_sample));
  return o;
}

// The targets of a step from its draws (pointers into `d`, which outlives them; fields drawn
// empty stay null). `actions`: the ground truth (null for the prompt step).
template <typename T>
FlowTargets<T> targets_of(const FlowDraws<T>& d, const T* actions) {
  auto ptr = [](const auto& v) { return v.empty() ? nullptr : v.data(); };
  FlowTargets<T> f;
  f.actions = actions;
  f.action_noise = ptr(d.action_noise);
  f.action_time = ptr(d.action_time);
  f.state_noise = ptr(d.state_noise);
  f.state_time = ptr(d.state_time);
  f.drop_prompt = ptr(d.drop_prompt);
  return f;
}

// ---- the async worker ----------------------------------------------------------------------

class PolicyWorker : public Napi::AsyncWorker {
 public:
  // `settled` runs on the main thread when the work is done, before the promise settles.
  PolicyWorker(Napi::Env env, Napi::Object self, Keep keep, std::function<void()> execute,
               std::function<Napi::Value(Napi::Env)> finish, std::function<void()> settled)
      : Napi::AsyncWorker(env, "vla-ttt:policy"),
        deferred_(Napi::Promise::Deferred::New(env)),
        execute_(std::move(execute)),
        finish_(std::move(finish)),
        settled_(std::move(settled)) {
    self_ = Napi::Persistent(self);
    for (auto& a : keep.arrays) refs_.push_back(Napi::Persistent(a));
  }
  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      execute_();
    } catch (const Error& e) {
      code_ = e.code();
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      code_ = ErrorCode::kOutOfMemory;
      SetError("out of memory");
    } catch (const std::exception& e) {
      code_ = ErrorCode::kInternal;
      SetError(std::string("internal error: ") + e.what());
    }
  }
  void OnOK() override {
    settled_();
    try {
      deferred_.Resolve(finish_(Env()));
    } catch (const Error& e) {
      deferred_.Reject(make_js_error(Env(), e.code(), e.what()).Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    settled_();
    deferred_.Reject(make_js_error(Env(), code_, e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<void()> execute_;
  std::function<Napi::Value(Napi::Env)> finish_;
  std::function<void()> settled_;
  Napi::ObjectReference self_;
  std::vector<Napi::Reference<Napi::TypedArray>> refs_;
  ErrorCode code_ = ErrorCode::kInternal;
};

Napi::Value rejected(Napi::Env env, const Error& e) {
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(make_js_error(env, e.code(), e.what()).Value());
  return d.Promise();
}

// ---- the class -----------------------------------------------------------------------------

// Per JS environment (the main thread and each worker thread load the addon separately): the
// class constructor, used to create instances from native code (load).
struct PolicyClassData {
  Napi::FunctionReference constructor;
};

class NativePolicy : public Napi::ObjectWrap<NativePolicy> {
 public:

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativePolicy",
                       {
                           StaticMethod("load", &NativePolicy::Load),
                           StaticMethod("fromBytes", &NativePolicy::FromBytes),
                           StaticMethod("preset", &NativePolicy::Preset),
                           InstanceMethod("config", &NativePolicy::Config),
                           InstanceMethod("dtype", &NativePolicy::DType_),
                           InstanceMethod("layout", &NativePolicy::Layout),
                           InstanceMethod("numParams", &NativePolicy::NumParams),
                           InstanceMethod("nativeBytes", &NativePolicy::NativeBytes),
                           InstanceMethod("getParams", &NativePolicy::GetParams),
                           InstanceMethod("setParams", &NativePolicy::SetParams),
                           InstanceMethod("getGrads", &NativePolicy::GetGrads),
                           InstanceMethod("save", &NativePolicy::Save),
                           InstanceMethod("act", &NativePolicy::Act),
                           InstanceMethod("actAsync", &NativePolicy::ActAsync),
                           InstanceMethod("predict", &NativePolicy::Predict),
                           InstanceMethod("encodingSize", &NativePolicy::EncodingSize),
                           InstanceMethod("encode", &NativePolicy::Encode),
                           InstanceMethod("encodeAsync", &NativePolicy::EncodeAsync),
                           InstanceMethod("lossAndGrads", &NativePolicy::LossAndGrads),
                           InstanceMethod("trainStep", &NativePolicy::TrainStep),
                           InstanceMethod("trainStepAsync", &NativePolicy::TrainStepAsync),
                           InstanceMethod("promptStep", &NativePolicy::PromptStep),
                           InstanceMethod("promptStepAsync", &NativePolicy::PromptStepAsync),
                           InstanceMethod("flowLoss", &NativePolicy::FlowLoss),
                           InstanceMethod("flowStep", &NativePolicy::FlowStep),
                           InstanceMethod("flowStepAsync", &NativePolicy::FlowStepAsync),
                           InstanceMethod("resetOptimizer", &NativePolicy::ResetOptimizer),
                           InstanceMethod("optimizerStep", &NativePolicy::OptimizerStep),
                           InstanceMethod("getOptimizerState", &NativePolicy::GetOptimizerState),
                           InstanceMethod("setOptimizerState", &NativePolicy::SetOptimizerState),
                           InstanceMethod("progress", &NativePolicy::Progress),
                           InstanceMethod("progressAsync", &NativePolicy::ProgressAsync),
                           InstanceMethod("progressStep", &NativePolicy::ProgressStep),
                           InstanceMethod("progressStepAsync", &NativePolicy::ProgressStepAsync),
                           InstanceMethod("toDevice", &NativePolicy::ToDevice),
                           InstanceMethod("device", &NativePolicy::Device),
                       });
  }

  // new NativePolicy({ config: JSON string, seed?, dtype?: 'float32' | 'float64' })
  NativePolicy(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativePolicy>(info) {
    Napi::Env env = info.Env();
    if (info.Length() >= 1 && info[0].IsExternal()) return;  // filled in by Load()
    try {
      Napi::Object o = read_object(info, 0, "NativePolicy", "options");
      Napi::Value cv = o.Get("config");
      if (!cv.IsString()) fail(ErrorCode::kArgument, "NativePolicy: 'config' must be the model config as a JSON string");
      ModelConfig cfg = ModelConfig::from_json(parse_json(cv.As<Napi::String>().Utf8Value(), "NativePolicy config"), "config");
      uint64_t seed = read_seed(o, "NativePolicy", "seed", 0);
      Napi::Value dt = o.Get("dtype");
      std::string dtype = dt.IsUndefined() ? "float32" : dt.IsString() ? dt.As<Napi::String>().Utf8Value() : "";
      if (dtype == "float32") f32_ = std::make_unique<Policy<float>>(cfg, seed);
      else if (dtype == "float64") f64_ = std::make_unique<Policy<double>>(cfg, seed);
      else fail(ErrorCode::kArgument, "NativePolicy: 'dtype' must be 'float32' or 'float64'");
      account(env);
    } catch (const Error& e) {
      make_js_error(env, e.code(), e.what()).ThrowAsJavaScriptException();
    }
  }

  ~NativePolicy() override {
    if (accounted_ != 0 && env_) Napi::MemoryManagement::AdjustExternalMemory(env_, -accounted_);
  }

 private:
  // Reports the native bytes held (parameters, gradients, AdamW moments, cached workspaces) to
  // the JS engine, so its garbage collector weighs a NativePolicy by its real size (the running
  // total is reportedExternalMemory(); process.memoryUsage().external leaves it out on Node 20).
  // Call on the main thread with no worker running on this policy (workspaces change in calls).
  void account(Napi::Env env) {
    env_ = env;
    int64_t bytes = f32_ ? f32_->native_bytes() : f64_ ? f64_->native_bytes() : 0;
    if (bytes == accounted_) return;
    Napi::MemoryManagement::AdjustExternalMemory(env, bytes - accounted_);
    accounted_ = bytes;
  }

  const ModelConfig& cfg() const { return f32_ ? f32_->config() : f64_->config(); }
  bool is_f64() const { return f64_ != nullptr; }

  template <typename F>
  auto dispatch(F&& f) {
    if (f32_) return f(*f32_);
    return f(*f64_);
  }

  // Ops the device twin does not run refuse while the policy is on the device, naming themselves
  // (computing them on the CPU would silently use weights the device has moved past).
  void cpu_only(const char* what) const {
    if (device_)
      fail(ErrorCode::kUnsupported, what, " runs on the CPU only, and this policy is on device 'cuda' (policy.to('cpu') moves it back)");
  }
  // The step count a step reports: the host optimizer's, or the device optimizer's that stepped.
  int64_t step_count() {
    if (device_) return device_->optimizer_step();
    return dispatch([](auto& p) { return p.optimizer_step(); });
  }

  // Synchronous calls never wait: an async call queued and not settled yet makes them fail (the
  // count is kept on the main thread, so the answer does not depend on worker timing).
  std::unique_lock<std::mutex> lock_now(const char* what) {
    if (pending_async_ > 0)
      fail(ErrorCode::kArgument, what, ": the policy is busy with an asynchronous call; await it first");
    return std::unique_lock<std::mutex>(mu_);
  }

  // Queues work on a libuv thread, holding the policy lock there.
  Napi::Promise queue(Napi::Env env, Keep keep, std::function<void()> work, std::function<Napi::Value(Napi::Env)> finish) {
    auto* worker = new PolicyWorker(
        env, Value(), std::move(keep),
        [this, work] {
          std::lock_guard<std::mutex> l(mu_);
          work();
        },
        std::move(finish), [this] {
          // Settled on the main thread; with nothing else queued, no worker touches the workspaces.
          if (--pending_async_ == 0) account(Napi::Env(env_));
        });
    ++pending_async_;
    Napi::Promise p = worker->promise();
    worker->Queue();
    return p;
  }

  static Napi::Value Load(const Napi::CallbackInfo& info);
  // NativePolicy.preset(name, vocabSize) -> the config JSON of a preset (tiny, small, base, pi0, critic-tiny, critic-small).
  static Napi::Value Preset(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber())
        fail(ErrorCode::kArgument, "NativePolicy.preset(name, vocabSize): a preset name and a vocabulary size");
      double v = info[1].As<Napi::Number>().DoubleValue();
      if (v != static_cast<double>(static_cast<int64_t>(v))) fail(ErrorCode::kValue, "preset: vocabSize must be an integer");
      return Napi::String::New(env, ModelConfig::preset_named(info[0].As<Napi::String>().Utf8Value(), static_cast<int64_t>(v)).to_json().dump());
    });
  }
  static Napi::Value FromBytes(const Napi::CallbackInfo& info);
  static Napi::Value wrap_loaded(Napi::Env env, LoadedPolicy loaded);

  Napi::Value Config(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), cfg().to_json().dump());
  }
  Napi::Value DType_(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), is_f64() ? "float64" : "float32"); }
  // The bytes this policy last reported to the engine (updated after every call; read without the
  // lock, so it never waits for a worker).
  Napi::Value NativeBytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(accounted_)); }
  Napi::Value NumParams(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(dispatch([](auto& p) { return p.num_params(); })));
  }

  Napi::Value Layout(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const ParamLayout& l = dispatch([](auto& p) -> const ParamLayout& { return p.layout(); });
    Napi::Array a = Napi::Array::New(env, l.params().size());
    for (size_t i = 0; i < l.params().size(); ++i) {
      const ParamInfo& p = l.params()[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", p.name);
      o.Set("shape", shape_to_js(env, p.shape));
      o.Set("group", param_group_name(p.group));
      o.Set("offset", static_cast<double>(p.offset));
      o.Set("size", static_cast<double>(p.shape.numel()));
      a.Set(static_cast<uint32_t>(i), o);
    }
    return a;
  }

  // A copy of the flat parameter (or gradient) buffer.
  template <typename Get>
  Napi::Value copy_buffer(Napi::Env env, const char* what, Get get) {
    return guarded(env, [&]() -> Napi::Value {
      auto lock = lock_now(what);
      if (f32_) {
        Napi::Float32Array a = Napi::Float32Array::New(env, static_cast<size_t>(f32_->num_params()));
        std::memcpy(a.Data(), get(*f32_), a.ByteLength());
        return a;
      }
      Napi::Float64Array a = Napi::Float64Array::New(env, static_cast<size_t>(f64_->num_params()));
      std::memcpy(a.Data(), get(*f64_), a.ByteLength());
      return a;
    });
  }
  Napi::Value GetParams(const Napi::CallbackInfo& info) {
    // Read through the const accessor: the mutable one counts as a change (act would repack).
    return copy_buffer(info.Env(), "getParams", [this](auto& p) {
      if (device_) device_->pull();
      return std::as_const(p).params();
    });
  }
  Napi::Value GetGrads(const Napi::CallbackInfo& info) {
    return copy_buffer(info.Env(), "getGrads", [this](auto& p) {
      cpu_only("getGrads");
      return p.grads();
    });
  }

  // setParams(flat typed array of the policy's dtype): every value must be finite.
  Napi::Value SetParams(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      auto lock = lock_now("setParams");
      Napi::Object holder = Napi::Object::New(env);
      holder.Set("params", info.Length() > 0 ? info[0] : env.Undefined());
      Keep keep;
      dispatch([&](auto& p) {
        using T = std::remove_reference_t<decltype(*p.params())>;
        const T* src = read_array<T>(holder, "setParams", "params", p.num_params(), "numParams()", keep);
        for (int64_t i = 0; i < p.num_params(); ++i)
          if (!std::isfinite(static_cast<double>(src[i]))) fail(ErrorCode::kValue, "setParams: element ", i, " is not finite");
        std::memcpy(p.params(), src, static_cast<size_t>(p.num_params()) * sizeof(T));
        return 0;
      });
      return env.Undefined();
    });
  }

  // save(path, metadata: Record<string, string>, dtype?: 'float32' | 'float16')
  Napi::Value Save(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      auto lock = lock_now("save");
      if (!f32_) fail(ErrorCode::kUnsupported, "save: only float32 policies are saved (this one is float64)");
      if (info.Length() < 1 || !info[0].IsString()) fail(ErrorCode::kArgument, "save(path, metadata?): path must be a string");
      std::vector<std::pair<std::string, std::string>> meta;
      if (info.Length() >= 2 && !info[1].IsUndefined()) {
        if (!info[1].IsObject()) fail(ErrorCode::kArgument, "save: metadata must be an object of strings");
        Napi::Object m = info[1].As<Napi::Object>();
        Napi::Array keys = m.GetPropertyNames();
        for (uint32_t i = 0; i < keys.Length(); ++i) {
          std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
          Napi::Value v = m.Get(k);
          if (!v.IsString()) fail(ErrorCode::kArgument, "save: metadata '", k, "' must be a string");
          meta.emplace_back(k, v.As<Napi::String>().Utf8Value());
        }
      }
      StDType weights = StDType::kF32;
      if (info.Length() >= 3 && !info[2].IsUndefined()) {
        std::string dtype = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : std::string("(not a string)");
        if (dtype == "float16") weights = StDType::kF16;
        else if (dtype != "float32") fail(ErrorCode::kArgument, "save: dtype must be 'float32' or 'float16', got '", dtype, "'");
      }
      if (device_) device_->pull();
      save_policy(*f32_, info[0].As<Napi::String>().Utf8Value(), meta, weights);
      return env.Undefined();
    });
  }

  // ---- acting ----

  // act(obs, { seed?, noise?, dropPrompt? }) -> actions [B * H * A]
  struct ActCall {
    Keep keep;
    std::function<void()> run;
    Napi::TypedArray out;
  };

  ActCall prepare_act(const Napi::CallbackInfo& info, const char* what) {
    Napi::Env env = info.Env();
    ActCall call;
    Napi::Object obs = read_object(info, 0, what, "observations");
    Napi::Object opts = read_object(info, 1, what, "options", true);
    const ModelConfig& c = cfg();
    uint64_t seed = read_seed(opts, what, "seed", 0);
    dispatch([&](auto& p) {
      using T = std::remove_reference_t<decltype(*p.params())>;
      ObsBatch<T> b = read_obs<T>(c, obs, what, call.keep);
      const int64_t n = b.B * c.horizon * c.action_dim;
      const T* noise = read_values<T>(opts, what, "noise", n, "batch * horizon * action_dim", call.keep, true);
      const uint8_t* drop = read_array<uint8_t>(opts, what, "dropPrompt", b.B, "batch", call.keep, true);
      // encodingsOut: filled with the observation encodings the prefix pass computes anyway.
      Napi::Value eo = opts.Get("encodingsOut");
      T* enc_out = nullptr;
      if (!eo.IsUndefined()) {
        if (b.encodings) fail(ErrorCode::kArgument, what, ": 'encodingsOut' with input encodings: the encodings are already known");
        enc_out = const_cast<T*>(read_array<T>(opts, what, "encodingsOut", b.B * p.encoding_size(), "batch * encodingSize()", call.keep));
      }
      call.out = new_typed_array(env, DTypeOf<T>::value, n);
      T* out = static_cast<T*>(typed_array_data(call.out));
      if constexpr (std::is_same_v<T, float>) {
        if (device_) {
          if (b.encodings) cpu_only((std::string(what) + " with observation encodings").c_str());
          if (enc_out) cpu_only((std::string(what) + " with 'encodingsOut' (observation encodings)").c_str());
          PolicyOnDevice* device = device_.get();
          call.run = [device, b, noise, drop, seed, out] { device->act(b, noise, seed, out, drop); };
          return 0;
        }
      }
      auto* policy = &p;
      call.run = [policy, b, noise, drop, seed, out, enc_out] { policy->act(b, noise, seed, out, drop, enc_out); };
      return 0;
    });
    return call;
  }

  Napi::Value Act(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      ActCall call = prepare_act(info, "act");
      auto lock = lock_now("act");
      call.run();
      account(info.Env());
      return call.out;
    });
  }

  Napi::Value ActAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      ActCall call = prepare_act(info, "actAsync");
      call.keep.arrays.push_back(call.out);
      Napi::TypedArray out = call.out;
      auto out_ref = std::make_shared<Napi::Reference<Napi::TypedArray>>(Napi::Persistent(out));
      return queue(env, std::move(call.keep), call.run, [out_ref](Napi::Env) -> Napi::Value { return out_ref->Value(); });
    } catch (const Error& e) {
      return rejected(env, e);
    }
  }

  Napi::Value EncodingSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(dispatch([](auto& p) { return p.encoding_size(); })));
  }

  // encode(obs) -> observation encodings [B * encodingSize()] (the observation rows' K/V per layer).
  ActCall prepare_encode(const Napi::CallbackInfo& info, const char* what) {
    Napi::Env env = info.Env();
    ActCall call;
    cpu_only(what);
    Napi::Object obs = read_object(info, 0, what, "observations");
    dispatch([&](auto& p) {
      using T = std::remove_reference_t<decltype(*p.params())>;
      ObsBatch<T> b = read_obs<T>(cfg(), obs, what, call.keep);
      if (b.encodings) fail(ErrorCode::kArgument, what, ": the observations are already encoded");
      call.out = new_typed_array(env, DTypeOf<T>::value, b.B * p.encoding_size());
      T* out = static_cast<T*>(typed_array_data(call.out));
      auto* policy = &p;
      call.run = [policy, b, out] { policy->encode_observations(b, out); };
      return 0;
    });
    return call;
  }
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      ActCall call = prepare_encode(info, "encode");
      auto lock = lock_now("encode");
      call.run();
      account(info.Env());
      return call.out;
    });
  }
  Napi::Value EncodeAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      ActCall call = prepare_encode(info, "encodeAsync");
      call.keep.arrays.push_back(call.out);
      auto out_ref = std::make_shared<Napi::Reference<Napi::TypedArray>>(Napi::Persistent(call.out));
      return queue(env, std::move(call.keep), call.run, [out_ref](Napi::Env) -> Napi::Value { return out_ref->Value(); });
    } catch (const Error& e) {
      return rejected(env, e);
    }
  }

  // predict(obs, x_t [B*H*A], t [B], { dropPrompt? }) -> field v [B*H*A]
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      auto lock = lock_now("predict");
      cpu_only("predict");
      Keep keep;
      Napi::Object obs = read_object(info, 0, "predict", "observations");
      Napi::Object args = read_object(info, 1, "predict", "inputs");
      const ModelConfig& c = cfg();
      return dispatch([&](auto& p) -> Napi::Value {
        using T = std::remove_reference_t<decltype(*p.params())>;
        ObsBatch<T> b = read_obs<T>(c, obs, "predict", keep);
        const int64_t n = b.B * c.horizon * c.action_dim;
        const T* xt = read_values<T>(args, "predict", "xt", n, "batch * horizon * action_dim", keep);
        const T* t = read_values<T>(args, "predict", "t", b.B, "batch", keep, false, 0, 1);
        const uint8_t* drop = read_array<uint8_t>(args, "predict", "dropPrompt", b.B, "batch", keep, true);
        Napi::TypedArray out = new_typed_array(env, DTypeOf<T>::value, n);
        p.predict(b, xt, t, drop, static_cast<T*>(typed_array_data(out)));
        account(env);
        return out;
      });
    });
  }

  // ---- losses and steps ----

  struct TargetsArgs {
    bool action = true, state = true;
  };

  template <typename T>
  FlowTargets<T> read_targets(const ModelConfig& c, const Napi::Object& t, int64_t B, const char* what, Keep& keep, bool action,
                              bool state) {
    FlowTargets<T> f;
    const int64_t n = B * c.horizon * c.action_dim;
    if (action) {
      f.actions = read_values<T>(t, what, "actions", n, "batch * horizon * action_dim", keep);
      f.action_noise = read_values<T>(t, what, "actionNoise", n, "batch * horizon * action_dim", keep);
      f.action_time = read_values<T>(t, what, "actionTime", B, "batch", keep, false, 0, 1);
      f.action_weights = read_values<T>(t, what, "actionWeights", B, "batch", keep, true);
    }
    if (state) {
      f.state_noise = read_values<T>(t, what, "stateNoise", B * c.state_dim, "batch * state_dim", keep);
      f.state_time = read_values<T>(t, what, "stateTime", B, "batch", keep, false, 0, 1);
    }
    f.drop_prompt = read_array<uint8_t>(t, what, "dropPrompt", B, "batch", keep, true);
    return f;
  }

  LossOptions read_loss_options(const Napi::Object& o, const char* what, std::vector<ParamGroup> default_groups) {
    LossOptions lo;
    lo.action_loss = read_bool(o, what, "actionLoss", true);
    lo.state_loss = read_bool(o, what, "stateLoss", cfg().use_state_expert);
    lo.state_weight = read_number(o, what, "stateWeight", 1.0, 0, 1e6);
    lo.routing.action_to_prompt = read_bool(o, what, "actionToPrompt", false);
    lo.grad_groups = read_groups(o, what, std::move(default_groups));
    return lo;
  }

  std::vector<ParamGroup> all_groups() const {
    if (cfg().is_progress()) return {ParamGroup::kEmbed, ParamGroup::kBackbone, ParamGroup::kProgress};
    std::vector<ParamGroup> g = {ParamGroup::kEmbed, ParamGroup::kBackbone, ParamGroup::kAction};
    if (cfg().use_prompt) g.push_back(ParamGroup::kPrompt);
    if (cfg().use_state_expert) g.push_back(ParamGroup::kState);
    return g;
  }

  // lossAndGrads(obs, targets, options) -> { total, action, state, ... }; gradients via getGrads().
  Napi::Value LossAndGrads(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      auto lock = lock_now("lossAndGrads");
      cpu_only("lossAndGrads");
      Keep keep;
      Napi::Object obs = read_object(info, 0, "lossAndGrads", "observations");
      Napi::Object tg = read_object(info, 1, "lossAndGrads", "targets");
      Napi::Object opts = read_object(info, 2, "lossAndGrads", "options", true);
      LossOptions lo = read_loss_options(opts, "lossAndGrads", all_groups());
      bool grads = read_bool(opts, "lossAndGrads", "grads", true);
      return dispatch([&](auto& p) -> Napi::Value {
        using T = std::remove_reference_t<decltype(*p.params())>;
        ObsBatch<T> b = read_obs<T>(cfg(), obs, "lossAndGrads", keep);
        FlowTargets<T> f = read_targets<T>(cfg(), tg, b.B, "lossAndGrads", keep, lo.action_loss, lo.state_loss && cfg().use_state_expert);
        if (grads) p.zero_grads();
        Napi::Object result = loss_object(env, p.loss_and_grads(b, f, lo, grads));
        account(env);
        return result;
      });
    });
  }

  // A prepared step: what to run on the worker and how to report.
  struct StepCall {
    Keep keep;
    std::function<StepResult()> run;
  };

  static Napi::Object step_object(Napi::Env env, const StepResult& r, int64_t step) {
    Napi::Object o = loss_object(env, r.loss);
    o.Set("gradNorm", r.grad_norm);
    o.Set("clipped", r.clipped);
    o.Set("step", static_cast<double>(step));
    return o;
  }

  Napi::Value run_step(const Napi::CallbackInfo& info, const char* what, bool async, StepCall (NativePolicy::*prepare)(const Napi::CallbackInfo&, const char*)) {
    Napi::Env env = info.Env();
    // Each head's steps fail on the other head's model, so the model's head says how to report.
    const bool progress = cfg().is_progress();
    if (!async) {
      return guarded(env, [&]() -> Napi::Value {
        StepCall call = (this->*prepare)(info, what);
        auto lock = lock_now(what);
        StepResult r = call.run();
        account(env);
        const int64_t step = step_count();
        return progress ? progress_step_object(env, r, step) : step_object(env, r, step);
      });
    }
    try {
      StepCall call = (this->*prepare)(info, what);
      auto result = std::make_shared<StepResult>();
      auto step_no = std::make_shared<int64_t>(0);
      auto run = call.run;
      return queue(
          env, std::move(call.keep),
          [this, run, result, step_no] {
            *result = run();
            *step_no = step_count();
          },
          [result, step_no, progress](Napi::Env e) -> Napi::Value {
            return progress ? progress_step_object(e, *result, *step_no) : step_object(e, *result, *step_no);
          });
    } catch (const Error& e) {
      return rejected(env, e);
    }
  }

  // trainStep(obs, actions [B*H*A], { seed, step, lr, ..., dropProbability, stateWeight, groups,
  //   maxGradNorm, actionLoss?, stateLoss? }): draws eps, t and prompt drops from (seed, step).
  StepCall prepare_train(const Napi::CallbackInfo& info, const char* what) {
    StepCall call;
    Napi::Object obs = read_object(info, 0, what, "observations");
    Napi::Object opts = read_object(info, 2, what, "options", true);
    LossOptions lo = read_loss_options(opts, what, all_groups());
    StepOptions so;
    so.adam = read_adam(opts, what, 3e-4, 0.01);
    so.max_grad_norm = read_number(opts, what, "maxGradNorm", 1.0, 0, 1e9);
    const uint64_t seed = read_seed(opts, what, "seed", 0);
    const uint64_t step = read_seed(opts, what, "step", 0);
    const double drop_p = read_number(opts, what, "dropProbability", 0.0, 0, 1);
    Napi::Object holder = Napi::Object::New(info.Env());
    holder.Set("actions", info.Length() > 1 ? info[1] : info.Env().Undefined());
    const ModelConfig& c = cfg();
    if (device_) require_device_training(lo, what);
    dispatch([&](auto& p) {
      using T = std::remove_reference_t<decltype(*p.params())>;
      ObsBatch<T> b = read_obs<T>(c, obs, what, call.keep);
      const T* actions = read_values<T>(holder, what, "actions", b.B * c.horizon * c.action_dim, "batch * horizon * action_dim", call.keep);
      if constexpr (std::is_same_v<T, float>) {
        if (device_) {
          if (b.encodings) cpu_only((std::string(what) + " with observation encodings").c_str());
          PolicyOnDevice* device = device_.get();
          call.run = [device, b, actions, lo, so, seed, step, drop_p, &c]() {
            auto d = draw_flow<float>(seed, step, b.B, c.horizon * c.action_dim, c.state_dim, drop_p);
            return device->train_step(b, targets_of(d, actions), lo.state_weight, so);
          };
          return 0;
        }
      }
      auto* policy = &p;
      call.run = [policy, b, actions, lo, so, seed, step, drop_p, &c]() {
        auto d = draw_flow<T>(seed, step, b.B, c.horizon * c.action_dim, c.state_dim, drop_p);
        return policy->step(b, targets_of(d, actions), lo, so, false);
      };
      return 0;
    });
    return call;
  }
  Napi::Value TrainStep(const Napi::CallbackInfo& info) { return run_step(info, "trainStep", false, &NativePolicy::prepare_train); }
  Napi::Value TrainStepAsync(const Napi::CallbackInfo& info) {
    return run_step(info, "trainStepAsync", true, &NativePolicy::prepare_train);
  }

  // promptStep(obs, { seed, step, lr, beta1, beta2, eps, weightDecay (default 0), maxGradNorm }):
  // the state-grounding loss; only the prompt blocks of the embodiments in the batch move.
  StepCall prepare_prompt(const Napi::CallbackInfo& info, const char* what) {
    StepCall call;
    require_head(cfg(), what, false);
    if (!cfg().use_prompt || !cfg().use_state_expert)
      fail(ErrorCode::kUnsupported, what, ": this policy has no latent prompt and state expert (a baseline config)");
    Napi::Object obs = read_object(info, 0, what, "observations");
    Napi::Object opts = read_object(info, 1, what, "options", true);
    LossOptions lo;
    lo.action_loss = false;
    lo.state_loss = true;
    lo.grad_groups = {ParamGroup::kPrompt};
    StepOptions so;
    so.adam = read_adam(opts, what, 1e-3, 0.0);
    so.max_grad_norm = read_number(opts, what, "maxGradNorm", 0.0, 0, 1e9);
    const uint64_t seed = read_seed(opts, what, "seed", 0);
    const uint64_t step = read_seed(opts, what, "step", 0);
    const ModelConfig& c = cfg();
    dispatch([&](auto& p) {
      using T = std::remove_reference_t<decltype(*p.params())>;
      ObsBatch<T> b = read_obs<T>(c, obs, what, call.keep);
      if constexpr (std::is_same_v<T, float>) {
        if (device_) {
          if (b.encodings) cpu_only((std::string(what) + " with observation encodings").c_str());
          PolicyOnDevice* device = device_.get();
          call.run = [device, b, so, seed, step, &c]() {
            auto d = draw_flow<float>(seed, step, b.B, 0, c.state_dim, 0.0);
            return device->prompt_step(b, targets_of<float>(d, nullptr), so);
          };
          return 0;
        }
      }
      auto* policy = &p;
      call.run = [policy, b, lo, so, seed, step, &c]() {
        auto d = draw_flow<T>(seed, step, b.B, 0, c.state_dim, 0.0);
        return policy->step(b, targets_of<T>(d, nullptr), lo, so, true);
      };
      return 0;
    });
    return call;
  }
  Napi::Value PromptStep(const Napi::CallbackInfo& info) { return run_step(info, "promptStep", false, &NativePolicy::prepare_prompt); }
  Napi::Value PromptStepAsync(const Napi::CallbackInfo& info) {
    return run_step(info, "promptStepAsync", true, &NativePolicy::prepare_prompt);
  }

  // flowLoss(obs, { actions, actionNoise, actionTime, dropPrompt? }) -> per-sample CFM losses
  // (Float64Array [B]) with the given eps and t (EVOLVE's FPO ratios need these).
  Napi::Value FlowLoss(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      auto lock = lock_now("flowLoss");
      cpu_only("flowLoss (per-sample flow losses)");
      Keep keep;
      Napi::Object obs = read_object(info, 0, "flowLoss", "observations");
      Napi::Object tg = read_object(info, 1, "flowLoss", "targets");
      return dispatch([&](auto& p) -> Napi::Value {
        using T = std::remove_reference_t<decltype(*p.params())>;
        ObsBatch<T> b = read_obs<T>(cfg(), obs, "flowLoss", keep);
        FlowTargets<T> f = read_targets<T>(cfg(), tg, b.B, "flowLoss", keep, true, false);
        LossOptions lo;
        lo.state_loss = false;
        Napi::Float64Array losses = to_js(env, p.loss_and_grads(b, f, lo, false).action_per_sample);
        account(env);
        return losses;
      });
    });
  }

  // flowStep(obs, { actions, actionNoise, actionTime, actionWeights, dropPrompt? }, { lr, ...,
  // groups, actionToPrompt, maxGradNorm }): one AdamW step on the gradient of
  // (1/B) sum_b w_b L_b, the per-sample weighted CFM loss (advantage-weighted CFM, or FPO's
  // surrogate with w_b computed by the caller).
  StepCall prepare_flow(const Napi::CallbackInfo& info, const char* what) {
    StepCall call;
    cpu_only(what);
    Napi::Object obs = read_object(info, 0, what, "observations");
    Napi::Object tg = read_object(info, 1, what, "targets");
    Napi::Object opts = read_object(info, 2, what, "options", true);
    LossOptions lo = read_loss_options(opts, what, {ParamGroup::kAction});
    lo.state_loss = false;
    lo.action_loss = true;
    StepOptions so;
    so.adam = read_adam(opts, what, 1e-4, 0.0);
    so.max_grad_norm = read_number(opts, what, "maxGradNorm", 1.0, 0, 1e9);
    const ModelConfig& c = cfg();
    dispatch([&](auto& p) {
      using T = std::remove_reference_t<decltype(*p.params())>;
      ObsBatch<T> b = read_obs<T>(c, obs, what, call.keep);
      FlowTargets<T> f = read_targets<T>(c, tg, b.B, what, call.keep, true, false);
      if (!f.action_weights) fail(ErrorCode::kArgument, what, ": 'actionWeights' (per-sample coefficients) is required");
      auto* policy = &p;
      call.run = [policy, b, f, lo, so]() { return policy->step(b, f, lo, so, false); };
      return 0;
    });
    return call;
  }
  Napi::Value FlowStep(const Napi::CallbackInfo& info) { return run_step(info, "flowStep", false, &NativePolicy::prepare_flow); }
  Napi::Value FlowStepAsync(const Napi::CallbackInfo& info) {
    return run_step(info, "flowStepAsync", true, &NativePolicy::prepare_flow);
  }

  // ---- the progress critic (head 'progress') ----

  // progress(obs: { batch, images [B*frames*S*S*3], text [B*L] }) -> c [B] in [-100, 100], the
  // model's dtype: how far each sample's last frame advanced the task over its first.
  ActCall prepare_progress(const Napi::CallbackInfo& info, const char* what) {
    Napi::Env env = info.Env();
    ActCall call;
    Napi::Object obs = read_object(info, 0, what, "observations");
    dispatch([&](auto& p) {
      using T = std::remove_reference_t<decltype(*p.params())>;
      ObsBatch<T> b = read_obs<T>(cfg(), obs, what, call.keep, true);
      call.out = new_typed_array(env, DTypeOf<T>::value, b.B);
      T* out = static_cast<T*>(typed_array_data(call.out));
      auto* policy = &p;
      call.run = [policy, b, out] { policy->progress(b, out); };
      return 0;
    });
    return call;
  }
  Napi::Value Progress(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      ActCall call = prepare_progress(info, "progress");
      auto lock = lock_now("progress");
      call.run();
      account(info.Env());
      return call.out;
    });
  }
  Napi::Value ProgressAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      ActCall call = prepare_progress(info, "progressAsync");
      call.keep.arrays.push_back(call.out);
      auto out_ref = std::make_shared<Napi::Reference<Napi::TypedArray>>(Napi::Persistent(call.out));
      return queue(env, std::move(call.keep), call.run, [out_ref](Napi::Env) -> Napi::Value { return out_ref->Value(); });
    } catch (const Error& e) {
      return rejected(env, e);
    }
  }

  // progressStep(obs, targets [B] in [-100, 100], weights [B] | null, { lr, beta1, beta2, eps,
  //   weightDecay, maxGradNorm }) -> { loss, perSample, gradNorm, clipped, step }: one AdamW step
  // on sum_b w_b ((c_b - y_b) / 100)^2 / sum_b w_b over every parameter of the critic.
  StepCall prepare_progress_step(const Napi::CallbackInfo& info, const char* what) {
    StepCall call;
    Napi::Env env = info.Env();
    Napi::Object obs = read_object(info, 0, what, "observations");
    Napi::Object opts = read_object(info, 3, what, "options", true);
    StepOptions so;
    so.adam = read_adam(opts, what, 3e-4, 0.01);
    so.max_grad_norm = read_number(opts, what, "maxGradNorm", 1.0, 0, 1e9);
    Napi::Object holder = Napi::Object::New(env);
    holder.Set("targets", info.Length() > 1 ? info[1] : env.Undefined());
    holder.Set("weights", info.Length() > 2 ? info[2] : env.Undefined());
    dispatch([&](auto& p) {
      using T = std::remove_reference_t<decltype(*p.params())>;
      ObsBatch<T> b = read_obs<T>(cfg(), obs, what, call.keep, true);
      const T* targets = read_values<T>(holder, what, "targets", b.B, "batch", call.keep, false, -100, 100);
      const T* weights = read_values<T>(holder, what, "weights", b.B, "batch", call.keep, true, 0, HUGE_VAL);
      if (weights) {
        double sum = 0;
        for (int64_t i = 0; i < b.B; ++i) sum += static_cast<double>(weights[i]);
        if (!(sum > 0)) fail(ErrorCode::kValue, what, ": 'weights' are all 0 (the weighted mean is undefined)");
      }
      auto* policy = &p;
      call.run = [policy, b, targets, weights, so]() { return policy->progress_step(b, targets, weights, so); };
      return 0;
    });
    return call;
  }
  Napi::Value ProgressStep(const Napi::CallbackInfo& info) {
    return run_step(info, "progressStep", false, &NativePolicy::prepare_progress_step);
  }
  Napi::Value ProgressStepAsync(const Napi::CallbackInfo& info) {
    return run_step(info, "progressStepAsync", true, &NativePolicy::prepare_progress_step);
  }

  Napi::Value ResetOptimizer(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      auto lock = lock_now("resetOptimizer");
      dispatch([](auto& p) {
        p.reset_optimizer();
        return 0;
      });
      if (device_) device_->reset_optimizers();
      return info.Env().Undefined();
    });
  }
  Napi::Value OptimizerStep(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(step_count()));
  }

  // getOptimizerState() -> { m, v, step } (copies)
  Napi::Value GetOptimizerState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      auto lock = lock_now("getOptimizerState");
      cpu_only("getOptimizerState");
      Napi::Object o = Napi::Object::New(env);
      dispatch([&](auto& p) {
        using T = std::remove_reference_t<decltype(*p.params())>;
        Napi::TypedArray m = new_typed_array(env, DTypeOf<T>::value, p.num_params());
        Napi::TypedArray v = new_typed_array(env, DTypeOf<T>::value, p.num_params());
        std::memcpy(typed_array_data(m), p.adam_m(), static_cast<size_t>(p.num_params()) * sizeof(T));
        std::memcpy(typed_array_data(v), p.adam_v(), static_cast<size_t>(p.num_params()) * sizeof(T));
        o.Set("m", m);
        o.Set("v", v);
        o.Set("step", static_cast<double>(p.optimizer_step()));
        return 0;
      });
      return o;
    });
  }

  // setOptimizerState({ m, v, step })
  Napi::Value SetOptimizerState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      auto lock = lock_now("setOptimizerState");
      cpu_only("setOptimizerState");
      Napi::Object o = read_object(info, 0, "setOptimizerState", "state");
      Keep keep;
      dispatch([&](auto& p) {
        using T = std::remove_reference_t<decltype(*p.params())>;
        const T* m = read_array<T>(o, "setOptimizerState", "m", p.num_params(), "numParams()", keep);
        const T* v = read_array<T>(o, "setOptimizerState", "v", p.num_params(), "numParams()", keep);
        double step = read_number(o, "setOptimizerState", "step", -1, 0, 9007199254740991.0);
        p.set_optimizer_state(m, v, static_cast<int64_t>(step));
        return 0;
      });
      return env.Undefined();
    });
  }

  // ---- the device ----

  // toDevice('cpu' | 'cuda'): places the policy. To 'cuda': a device twin with the current
  // weights and fresh device optimizers. To 'cpu': the device's weights are copied back and the
  // twin (with its optimizer state) is dropped. Moving where the policy already is does nothing.
  Napi::Value ToDevice(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      auto lock = lock_now("toDevice");
      const std::string name = info.Length() >= 1 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
      if (name == "cpu") {
        if (device_) device_->pull();
        device_.reset();
      } else if (name == "cuda") {
        if (device_) return env.Undefined();
        if (!f32_) fail(ErrorCode::kUnsupported, "device 'cuda': a float64 policy (the gradient-check reference) runs on the CPU only");
        device_ = std::make_unique<PolicyOnDevice>(*f32_);
      } else {
        fail(ErrorCode::kArgument, "toDevice(device): device must be 'cpu' or 'cuda', got '", name, "'");
      }
      return env.Undefined();
    });
  }
  Napi::Value Device(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), device_ ? "cuda" : "cpu"); }

  // trainStep on the device trains what DevicePolicy::train_step trains: every parameter group
  // on both losses with the default gradient routing; other settings run on the CPU.
  void require_device_training(const LossOptions& lo, const char* what) const {
    const std::vector<ParamGroup> all = all_groups();
    bool every_group = lo.grad_groups.size() == all.size();
    for (ParamGroup g : all)
      every_group = every_group && std::find(lo.grad_groups.begin(), lo.grad_groups.end(), g) != lo.grad_groups.end();
    const char* why = !lo.action_loss ? "'actionLoss: false'"
                      : lo.state_loss != cfg().use_state_expert ? "'stateLoss' other than the model's default"
                      : lo.routing.action_to_prompt ? "'actionToPrompt'"
                      : !every_group ? "'groups' other than every group"
                      : nullptr;
    if (why) cpu_only((std::string(what) + " with " + why).c_str());
  }

  std::unique_ptr<Policy<float>> f32_;
  std::unique_ptr<Policy<double>> f64_;
  // Set while the policy is on device 'cuda' (float32 only); declared after f32_, which it refers to.
  std::unique_ptr<PolicyOnDevice> device_;
  std::mutex mu_;
  int pending_async_ = 0;  // main thread only
  int64_t accounted_ = 0;
  napi_env env_ = nullptr;

  friend Napi::Value load_into(Napi::Env, LoadedPolicy);
};

Napi::Value NativePolicy::wrap_loaded(Napi::Env env, LoadedPolicy loaded) {
  PolicyClassData* data = env.GetInstanceData<PolicyClassData>();
  if (!data) fail(ErrorCode::kInternal, "NativePolicy: the class is not initialized in this environment");
  Napi::Object obj = data->constructor.New({Napi::External<void>::New(env, nullptr)});
  NativePolicy* self = NativePolicy::Unwrap(obj);
  self->f32_ = std::move(loaded.policy);
  self->account(env);
  Napi::Object meta = Napi::Object::New(env);
  for (const auto& [k, v] : loaded.metadata) meta.Set(k, v);
  Napi::Object out = Napi::Object::New(env);
  out.Set("policy", obj);
  out.Set("metadata", meta);
  return out;
}

// NativePolicy.load(path) -> { policy, metadata }
Napi::Value NativePolicy::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString()) fail(ErrorCode::kArgument, "NativePolicy.load(path): path must be a string");
    return wrap_loaded(env, load_policy(info[0].As<Napi::String>().Utf8Value()));
  });
}

// NativePolicy.fromBytes(bytes: Uint8Array, source: string) -> { policy, metadata }
Napi::Value NativePolicy::FromBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      fail(ErrorCode::kArgument, "NativePolicy.fromBytes(bytes, source): bytes must be a Uint8Array");
    Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
    std::string source = info.Length() >= 2 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "<bytes>";
    std::vector<uint8_t> bytes(a.Data(), a.Data() + a.ElementLength());
    return wrap_loaded(env, load_policy_from_bytes(std::move(bytes), source));
  });
}

}  // namespace

void init_policy_binding(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = NativePolicy::Define(env);
  auto* data = new PolicyClassData{Napi::Persistent(cls)};
  env.SetInstanceData<PolicyClassData>(data);  // deleted with the environment
  exports.Set("NativePolicy", cls);
}

}  // namespace vla::napi
