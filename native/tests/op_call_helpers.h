// Calling registered ops from tests on plain std::vector buffers.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "registry/op_registry.h"

namespace vla::test {

// A view of `values` (which must outlive the call) with `shape`.
template <typename T>
AnyTensor view_of(std::vector<T>& values, Shape shape) {
  return AnyTensor{values.data(), DTypeOf<T>::value, shape};
}

using NamedInputs = std::vector<std::pair<std::string, AnyTensor>>;
using NamedAttrs = std::vector<std::pair<std::string, double>>;

// make_call + run_call_owned: validates, allocates the outputs, runs.
inline std::vector<OwnedTensor> call_op(const std::string& op, const NamedInputs& inputs, const NamedAttrs& attrs = {}) {
  return run_call_owned(make_call(find_op(op), inputs, attrs));
}

// An output's elements as a vector of T (T must be its dtype).
template <typename T>
std::vector<T> values_of(const OwnedTensor& t) {
  const T* p = t.view.ptr<T>();
  return std::vector<T>(p, p + t.view.numel());
}

// n standard-normal values (never exactly zero in practice) times `scale`.
template <typename T>
std::vector<T> random_values(Rng& rng, int64_t n, double scale = 1.0) {
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(scale * rng.normal());
  return v;
}

}  // namespace vla::test
