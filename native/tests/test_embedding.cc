#include "core/thread_pool.h"
#include "ops/embedding.h"
#include "tests/gradcheck.h"
#include "tests/op_call_helpers.h"
#include "tests/test_framework.h"

namespace vla::test {

namespace {
std::vector<double> random_ids(Rng& rng, int64_t n, int64_t V) {
  std::vector<double> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = static_cast<double>(rng.below(V));
  return ids;
}
}  // namespace

VLA_TEST(embedding, gradcheck_with_repeated_ids) {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    Rng rng(seed);
    const int64_t V = 1 + rng.below(7), D = seed == 2 ? 1 : 1 + rng.below(40);  // D over 16: several column blocks
    const int64_t B = 1 + rng.below(3), T = 1 + rng.below(6);                   // B*T > V often: ids repeat
    GradCase c;
    c.inputs.push_back(int_input("ids", Shape{B, T}, random_ids(rng, B * T, V)));
    c.inputs.push_back(random_input(rng, "table", Shape{V, D}));
    expect_gradcheck("embedding", c, seed);
  }
}

VLA_TEST(embedding, known_values_and_scatter_add) {
  std::vector<double> table = {0.5, 1.5, 2.5, 3.5, 4.5, 5.5};  // V = 3, D = 2
  std::vector<int32_t> ids = {2, 0, 2};
  auto out = values_of<double>(call_op("embedding", {{"ids", view_of(ids, Shape{3})}, {"table", view_of(table, Shape{3, 2})}})[0]);
  VLA_EXPECT((out == std::vector<double>{4.5, 5.5, 0.5, 1.5, 4.5, 5.5}));
  std::vector<double> dout = {1, 2, 3, 4, 5, 6};
  auto dtable = values_of<double>(call_op("embedding_backward", {{"ids", view_of(ids, Shape{3})},
                                                                 {"table", view_of(table, Shape{3, 2})},
                                                                 {"dout", view_of(dout, Shape{3, 2})}})[0]);
  VLA_EXPECT((dtable == std::vector<double>{3, 4, 0, 0, 6, 8}));  // row 2 gets rows 0 and 2 of dout
}

VLA_TEST(embedding, backward_deterministic_for_any_thread_count) {
  // Many repeated ids across a wide table: the sums must be the same whatever the thread count.
  const int64_t N = 5000, V = 13, D = 150;
  Rng rng(6);
  std::vector<int32_t> ids(N);
  for (auto& id : ids) id = static_cast<int32_t>(rng.below(V));
  std::vector<float> table = random_values<float>(rng, V * D), dout = random_values<float>(rng, N * D);
  std::vector<std::vector<float>> results;
  const int before = num_threads();
  for (int threads : {1, 2, 4}) {
    set_num_threads(threads);
    std::vector<float> dtable(V * D, 0.0f);
    embedding_backward<float>(ids.data(), dout.data(), dtable.data(), N, V, D);
    results.push_back(dtable);
  }
  set_num_threads(before);
  VLA_EXPECT(results[0] == results[1] && results[0] == results[2]);
  // In order n = 0..N-1 per element, exactly as a sequential loop would add.
  std::vector<float> expect(V * D, 0.0f);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) expect[ids[n] * D + d] += dout[n * D + d];
  VLA_EXPECT(results[0] == expect);
}

VLA_TEST(embedding, ids_out_of_range_and_shapes) {
  std::vector<float> table(4 * 3, 0.5f);
  std::vector<int32_t> ids = {0, 1, 2, 3, 4, 1};
  VLA_EXPECT_THROWS(call_op("embedding", {{"ids", view_of(ids, Shape{2, 3})}, {"table", view_of(table, Shape{4, 3})}}),
                    ErrorCode::kValue, "embedding: input 'ids' has value 4 at [1, 1], outside [0, V = 4)");
  ids[4] = -1;
  VLA_EXPECT_THROWS(call_op("embedding", {{"ids", view_of(ids, Shape{2, 3})}, {"table", view_of(table, Shape{4, 3})}}),
                    ErrorCode::kValue, "input 'ids' has value -1 at [1, 1]");
  std::vector<float> dout(6 * 3, 1.0f);
  VLA_EXPECT_THROWS(call_op("embedding_backward", {{"ids", view_of(ids, Shape{2, 3})},
                                                   {"table", view_of(table, Shape{4, 3})},
                                                   {"dout", view_of(dout, Shape{2, 3, 3})}}),
                    ErrorCode::kValue, "has value -1 at [1, 1]");
  ids[4] = 1;
  VLA_EXPECT_THROWS(call_op("embedding", {{"ids", view_of(ids, Shape{2, 3})}, {"table", view_of(table, Shape{12})}}),
                    ErrorCode::kShape, "input 'table' has shape [12], expected rank 2");
  VLA_EXPECT_THROWS(call_op("embedding_backward", {{"ids", view_of(ids, Shape{2, 3})},
                                                   {"table", view_of(table, Shape{4, 3})},
                                                   {"dout", view_of(dout, Shape{6, 3})}}),
                    ErrorCode::kShape, "input 'dout' has shape [6, 3], expected [2, 3, 3]");
  VLA_EXPECT_THROWS(call_op("embedding", {{"ids", view_of(ids, Shape{1, 1, 1, 1, 2, 3})}, {"table", view_of(table, Shape{4, 3})}}),
                    ErrorCode::kShape, "expected rank <= 5");
  VLA_EXPECT(find_invalid_id(ids.data(), 6, 4) == -1);
  VLA_EXPECT(find_invalid_id(ids.data(), 6, 3) == 3);
  // Zero-sized: no ids, and an empty table with no ids.
  std::vector<int32_t> none;
  VLA_EXPECT(call_op("embedding", {{"ids", view_of(none, Shape{0, 5})}, {"table", view_of(table, Shape{4, 3})}})[0]
                 .view.shape == (Shape{0, 5, 3}));
  VLA_EXPECT(call_op("embedding", {{"ids", view_of(none, Shape{0})}, {"table", view_of(table, Shape{0, 3})}})[0]
                 .view.numel() == 0);
}

}  // namespace vla::test
