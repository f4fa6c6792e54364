// runOp / runOpAsync / listOps: every registered op, called from JavaScript by name.
#pragma once

#include <napi.h>

namespace vla::napi {

// runOp(name, inputs, attrs?) -> { <output>: { data, shape }, ... }   (synchronous)
Napi::Value run_op(const Napi::CallbackInfo& info);
// runOpAsync(name, inputs, attrs?) -> Promise of the same; computes on a libuv worker thread.
Napi::Value run_op_async(const Napi::CallbackInfo& info);
// listOps() -> [{ name, summary, inputs, attrs, outputs, backward }]
Napi::Value list_ops(const Napi::CallbackInfo& info);

}  // namespace vla::napi
