// The Mixture-of-Transformers layer stack on the device: model/mot.h's mot_forward and
// mot_backward with every buffer (parameters, gradients, the segments' activations, the K/V
// cache, the scratch arena) in device memory, computed by the CUDA kernels. The orchestration is
// model/mot_impl.h, shared with the CPU, so both run the same calls in the same order.
//
// Buffers are carved exactly as on the CPU (allocate_segment, allocate_kv, from an Arena made
// with Arena::over(device memory)); masks and positions are uploaded by the caller. Packed
// weights are a CPU feature: segments here must have `packed` null.
#pragma once

#include <vector>

#include "cuda/namespace.h"
#include "model/mot.h"

namespace vla::VLA_CUDA_NS {

void mot_forward(const ModelConfig& cfg, const ParamsView<float>& p, int64_t B, const KeyLayout& keys,
                 KvCache<float>& kv, const std::vector<SegmentActs<float>*>& active);

void mot_backward(const ModelConfig& cfg, const ParamsView<float>& p, const ParamsView<float>& g, int64_t B,
                  const KeyLayout& keys, const KvCache<float>& kv, const std::vector<SegmentActs<float>*>& active,
                  const std::vector<SegmentGrad<float>>& grads, const GradientRouting& routing, Arena& scratch);

}  // namespace vla::VLA_CUDA_NS
