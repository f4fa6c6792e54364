// Embedding kernels (cuda/embedding_cuda.h) against the CPU reference (ops/embedding.h). The
// forward is a copy and the backward adds in the CPU's order, so both must match bitwise. Ids
// repeat (a small vocabulary: many tokens per id, chains across the links kernel's 256-id
// tiles) or hardly at all, rows are wider than a block or ragged, the scratch is passed or
// allocated by the call, and dtable starts nonzero (the backward accumulates; untouched rows
// must stay as they were).
#include "core/random.h"
#include "cuda/embedding_cuda.h"
#include "ops/embedding.h"
#include "tests/cuda/cuda_test_support.h"

namespace vla::test {
namespace {

using gpu::testing::to_device;
using gpu::testing::to_host;

void run_embedding(int64_t N, int64_t V, int64_t D, bool own_scratch, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> ids(N);
  for (auto& id : ids) id = static_cast<int32_t>(rng.below(uint64_t(V)));
  auto table = random_floats(V * D, seed + 1);
  auto dout = random_floats(N * D, seed + 2);
  auto dtable0 = random_floats(V * D, seed + 3);

  std::vector<float> out(N * D);
  embedding_forward(ids.data(), table.data(), out.data(), N, V, D);
  auto d_ids = to_device(ids), d_table = to_device(table), d_dout = to_device(dout);
  gpu::DeviceBuffer d_out(N * D * sizeof(float));
  gpu::embedding_forward(d_ids.as<int32_t>(), d_table.as<float>(), d_out.as<float>(), N, V, D);
  auto got = to_host<float>(d_out, N * D);
  VLA_EXPECT(got == out) << "forward (N " << N << ", V " << V << ", D " << D << "): relative error "
                         << max_rel_error(got, out);

  std::vector<float> dtable = dtable0;
  embedding_backward(ids.data(), dout.data(), dtable.data(), N, V, D);
  auto d_dtable = to_device(dtable0);
  gpu::DeviceBuffer scratch(own_scratch ? gpu::embedding_backward_scratch_ints(N) * sizeof(int32_t) : 0);
  gpu::embedding_backward(d_ids.as<int32_t>(), d_dout.as<float>(), d_dtable.as<float>(), N, V, D,
                          own_scratch ? scratch.as<int32_t>() : nullptr);
  got = to_host<float>(d_dtable, V * D);
  VLA_EXPECT(got == dtable) << "backward (N " << N << ", V " << V << ", D " << D << "): relative error "
                            << max_rel_error(got, dtable);
}

VLA_CUDA_TEST(embedding) {
  VLA_REQUIRE_CUDA_DEVICE();
  run_embedding(300, 23, 70, true, 10);     // ~13 tokens per id, chains across two id tiles
  run_embedding(50, 1000, 300, false, 20);  // few repeats; rows wider than a block
  run_embedding(257, 1, 5, false, 30);      // one id: a single chain of 257
  run_embedding(1, 7, 33, true, 40);
}

}  // namespace
}  // namespace vla::test
