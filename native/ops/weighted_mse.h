// The weighted-MSE reduction shared by mse_loss and flow_matching_loss (formulas in mse_loss.h),
// written against a residual accessor so flow matching never materializes its target eps - a.
// Internal to native/ops.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/thread_pool.h"

namespace vla {
namespace {

constexpr int64_t kLossGrain = 1 << 14;  // elements per parallel chunk, at least

// residual(b, j) returns (prediction - target)[b, j] as T.
template <typename T, typename Residual>
void weighted_mse_forward(Residual residual, const T* weights, T* loss, T* per_sample, int64_t B, int64_t J) {
  parallel_for(B, std::max<int64_t>(1, kLossGrain / std::max<int64_t>(J, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      double acc[8] = {};  // independent partial sums; fixed order
      int64_t j = 0;
      for (; j + 8 <= J; j += 8)
        for (int l = 0; l < 8; ++l) {
          double r = static_cast<double>(residual(b, j + l));
          acc[l] += r * r;
        }
      double total = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      for (; j < J; ++j) {
        double r = static_cast<double>(residual(b, j));
        total += r * r;
      }
      per_sample[b] = static_cast<T>(total / static_cast<double>(J));
    }
  });
  double weighted = 0;
  for (int64_t b = 0; b < B; ++b)
    weighted += (weights ? static_cast<double>(weights[b]) : 1.0) * static_cast<double>(per_sample[b]);
  *loss = static_cast<T>(weighted / static_cast<double>(B));
}

// Calls scatter(b, j, g) with g = (dloss * w_b / B + dper_sample[b]) * 2 residual(b, j) / J.
template <typename T, typename Residual, typename Scatter>
void weighted_mse_backward(Residual residual, const T* weights, T dloss, const T* dper_sample, Scatter scatter,
                           int64_t B, int64_t J) {
  parallel_for(B, std::max<int64_t>(1, kLossGrain / std::max<int64_t>(J, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      T coef = dloss * (weights ? weights[b] : T(1)) / static_cast<T>(B);
      if (dper_sample) coef += dper_sample[b];
      coef *= T(2) / static_cast<T>(J);
      for (int64_t j = 0; j < J; ++j) scatter(b, j, coef * residual(b, j));
    }
  });
}

}  // namespace
}  // namespace vla
