// The random draws of flow-matching training, from Philox streams keyed by (seed, step), so a
// training or adaptation run is reproducible step by step and resumable.
//   noise ~ N(0, I);  t = Beta(1.5, 1) * 0.999 + 0.001 (openpi: more mass at the noisy end);
//   drop_prompt[b] ~ Bernoulli(p).
// Beta(a, 1) has CDF x^a, so t is drawn as u^(1/a) by inversion.
#pragma once

#include <cstdint>
#include <vector>

namespace vla {

template <typename T>
struct FlowDraws {
  std::vector<T> action_noise, action_time, state_noise, state_time;
  std::vector<uint8_t> drop_prompt;
};

template <typename T>
FlowDraws<T> draw_flow(uint64_t seed, uint64_t step, int64_t B, int64_t action_elems, int64_t state_dim,
                       double drop_probability);

}  // namespace vla
