// NativePolicy: the flow-matching policy (native/model) as a JavaScript class.
#pragma once

#include <napi.h>

namespace vla::napi {

// Adds the NativePolicy class to `exports`.
void init_policy_binding(Napi::Env env, Napi::Object exports);

}  // namespace vla::napi
