// renderBatch / renderBatchAsync: the batched renderer (render/render_batch.h) called from JS.
//
//   renderBatch(batch, options) -> Uint8Array [B * H * W * 3]
//   renderBatchAsync(batch, options) -> Promise<Uint8Array>   (draws on a libuv worker thread)
//
// batch: { geomOffsets: Int32Array [B+1], type: Int32Array [G], size: Float32Array [G*3],
//          pos: Float32Array [G*3], mat: Float32Array [G*9], rgba: Float32Array [G*4],
//          texture: Int32Array [G], texParams: Float32Array [G*4], cameras: Float32Array [B*10],
//          lights: Float32Array [B*10], background: Float32Array [B*3] }
// options: { width, height, supersample? (default 1), out?: Uint8Array of B*H*W*3 to draw into }
// The arrays are read in place. The result is `out` when given, else a new Uint8Array.
#pragma once

#include <napi.h>

namespace vla::napi {

Napi::Value render_batch_js(const Napi::CallbackInfo& info);
Napi::Value render_batch_async_js(const Napi::CallbackInfo& info);

}  // namespace vla::napi
