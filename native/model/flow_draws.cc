#include "model/flow_draws.h"

#include <cmath>

#include "core/error.h"
#include "core/random.h"

namespace vla {

template <typename T>
FlowDraws<T> draw_flow(uint64_t seed, uint64_t step, int64_t B, int64_t action_elems, int64_t state_dim,
                       double drop_probability) {
  if (!(drop_probability >= 0 && drop_probability <= 1))
    fail(ErrorCode::kValue, "prompt drop probability ", drop_probability, " is not in [0, 1]");
  // Independent streams per quantity; the step selects a disjoint block of each.
  const uint64_t base = step * 8;
  Rng noise(seed, base + 1), time(seed, base + 2), snoise(seed, base + 3), stime(seed, base + 4), drop(seed, base + 5);
  FlowDraws<T> d;
  d.action_noise.resize(static_cast<size_t>(B * action_elems));
  for (size_t i = 0; i < d.action_noise.size(); ++i) d.action_noise[i] = static_cast<T>(noise.normal_at(i));
  d.state_noise.resize(static_cast<size_t>(B * state_dim));
  for (size_t i = 0; i < d.state_noise.size(); ++i) d.state_noise[i] = static_cast<T>(snoise.normal_at(i));
  d.action_time.resize(static_cast<size_t>(B));
  d.state_time.resize(static_cast<size_t>(B));
  d.drop_prompt.resize(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    d.action_time[b] = static_cast<T>(std::pow(time.uniform_at(b), 1.0 / 1.5) * 0.999 + 0.001);
    d.state_time[b] = static_cast<T>(std::pow(stime.uniform_at(b), 1.0 / 1.5) * 0.999 + 0.001);
    d.drop_prompt[b] = drop.uniform_at(b) < drop_probability ? 1 : 0;
  }
  return d;
}

template FlowDraws<float> draw_flow<float>(uint64_t, uint64_t, int64_t, int64_t, int64_t, double);
template FlowDraws<double> draw_flow<double>(uint64_t, uint64_t, int64_t, int64_t, int64_t, double);

}  // namespace vla
