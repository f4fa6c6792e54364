#include <cmath>
#include <memory>

#include "core/cpu_features.h"
#include "ops/weighted_rows.h"
#include "tests/op_call_helpers.h"
#include "tests/test_framework.h"

namespace vla::test {

namespace {

// Each row and output in its own exactly-sized heap block, so that a read or write past n shows
// up under AddressSanitizer or valgrind.
struct Problem {
  std::vector<std::unique_ptr<float[]>> row_storage, out_storage;
  std::vector<const float*> rows;
  std::vector<float*> outs;
  std::vector<float> weights;
};

Problem make_problem(Rng& rng, int num_out, int64_t n, int64_t count) {
  Problem p;
  for (int64_t c = 0; c < count; ++c) {
    p.row_storage.emplace_back(new float[static_cast<size_t>(n)]);
    for (int64_t x = 0; x < n; ++x) p.row_storage.back()[x] = static_cast<float>(rng.normal());
    p.rows.push_back(p.row_storage.back().get());
  }
  for (int r = 0; r < num_out; ++r) {
    p.out_storage.emplace_back(new float[static_cast<size_t>(n)]);
    for (int64_t x = 0; x < n; ++x) p.out_storage.back()[x] = static_cast<float>(rng.normal());
    p.outs.push_back(p.out_storage.back().get());
  }
  p.weights = random_values<float>(rng, num_out * count);
  return p;
}

}  // namespace

VLA_TEST(weighted_rows, kernels_match_float64_sums) {
  Rng rng(17);
  const bool have_avx2 = weighted_rows_avx2_available() && hardware_isa() >= Isa::kAvx2;
  int checked = 0;
  for (int num_out = 1; num_out <= kMaxWeightedOutputs; ++num_out)
    for (int64_t n : {0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 64, 98}) {
      for (int64_t count : {0, 1, 2, 3, 4, 5, 9, 32}) {
        Problem base = make_problem(rng, num_out, n, count);
        std::vector<std::vector<double>> expect(num_out, std::vector<double>(static_cast<size_t>(n)));
        for (int r = 0; r < num_out; ++r)
          for (int64_t x = 0; x < n; ++x) {
            double acc = base.outs[r][x];
            for (int64_t c = 0; c < count; ++c) acc += double(base.weights[r * count + c]) * base.rows[c][x];
            expect[r][x] = acc;
          }
        for (int kernel = 0; kernel < (have_avx2 ? 2 : 1); ++kernel) {
          Problem p = make_problem(rng, num_out, n, 0);  // fresh outputs, copied from base
          for (int r = 0; r < num_out; ++r)
            for (int64_t x = 0; x < n; ++x) p.outs[r][x] = base.outs[r][x];
          if (kernel == 0)
            add_weighted_rows_generic<float>(p.outs.data(), num_out, n, base.weights.data(), count, base.rows.data(),
                                             count);
          else
            add_weighted_rows_avx2(p.outs.data(), num_out, n, base.weights.data(), count, base.rows.data(), count);
          for (int r = 0; r < num_out; ++r)
            for (int64_t x = 0; x < n; ++x) {
              double bound = 1e-6;  // float rounding of count + 1 terms of size ~1
              for (int64_t c = 0; c < count; ++c) bound += 1e-6 * std::fabs(base.weights[r * count + c] * base.rows[c][x]);
              VLA_EXPECT_NEAR(p.outs[r][x], expect[r][x], bound + 1e-6 * std::fabs(expect[r][x]))
                  << (kernel ? "avx2" : "generic") << "outputs" << num_out << "n" << n << "count" << count;
            }
          ++checked;
        }
      }
    }
  std::printf("    %d kernel configurations checked (avx2 kernel %s)\n", checked, have_avx2 ? "included" : "not available");
}

}  // namespace vla::test
