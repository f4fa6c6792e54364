#include "ops/attention_mask.h"
#include "tests/op_call_helpers.h"
#include "tests/test_framework.h"

namespace vla::test {

namespace {
// Segment ids of the policy layout (see test_attention.cc): observations, prompt, state, actions,
// and the prompt as seen by a sample that drops it for the action expert.
enum : int32_t { kObs = 0, kPrompt = 1, kState = 2, kAction = 3, kDroppedPrompt = 4, kSegments = 5 };

std::vector<uint8_t> allow_table() {
  std::vector<uint8_t> allow(kSegments * kSegments, 0);
  auto set = [&](int32_t from, std::initializer_list<int32_t> to) {
    for (int32_t t : to) allow[from * kSegments + t] = 1;
  };
  set(kObs, {kObs});
  set(kPrompt, {kObs, kPrompt});
  set(kDroppedPrompt, {kObs, kDroppedPrompt});
  set(kState, {kObs, kPrompt, kDroppedPrompt, kState});
  set(kAction, {kObs, kPrompt, kAction});
  return allow;
}
}  // namespace

VLA_TEST(block_mask, mixture_of_transformers_layout) {
  // 3 observations, 2 prompt tokens, 1 state token, 3 actions; sample 1 drops its prompt.
  std::vector<int32_t> segments = {kObs, kObs, kObs, kPrompt, kPrompt, kState, kAction, kAction, kAction,
                                   kObs, kObs, kObs, kDroppedPrompt, kDroppedPrompt, kState, kAction, kAction, kAction};
  std::vector<uint8_t> allow = allow_table();
  auto out = call_op("block_mask", {{"segments", view_of(segments, Shape{2, 9})}, {"allow", view_of(allow, Shape{5, 5})}});
  VLA_EXPECT(out[0].view.shape == (Shape{2, 9, 9}));
  std::vector<uint8_t> mask = values_of<uint8_t>(out[0]);
  auto at = [&](int b, int i, int j) { return mask[(b * 9 + i) * 9 + j]; };
  for (int b = 0; b < 2; ++b) {
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 9; ++j) VLA_EXPECT(at(b, i, j) == (j < 3)) << "observation row" << i << j;
    for (int i = 3; i < 5; ++i)
      for (int j = 0; j < 9; ++j) VLA_EXPECT(at(b, i, j) == (j < 5)) << "prompt row" << i << j;
    for (int j = 0; j < 9; ++j) VLA_EXPECT(at(b, 5, j) == (j < 6)) << "state row" << j;
    for (int i = 6; i < 9; ++i)
      for (int j = 0; j < 9; ++j) {
        const bool sees_prompt = b == 0;
        const bool expect = j < 3 || (j >= 3 && j < 5 && sees_prompt) || j >= 6;
        VLA_EXPECT(at(b, i, j) == expect) << "action row" << b << i << j;
      }
  }
  // A shared [T] segment array gives a [1, T, T] mask equal to sample 0's.
  std::vector<int32_t> one(segments.begin(), segments.begin() + 9);
  auto shared = values_of<uint8_t>(
      call_op("block_mask", {{"segments", view_of(one, Shape{9})}, {"allow", view_of(allow, Shape{5, 5})}})[0]);
  VLA_EXPECT(shared == std::vector<uint8_t>(mask.begin(), mask.begin() + 81));
}

VLA_TEST(block_mask, cached_keys_for_acting) {
  // Acting: the 4 suffix queries (state + 3 actions) against all 9 cached keys.
  std::vector<int32_t> keys = {kObs, kObs, kObs, kPrompt, kPrompt, kState, kAction, kAction, kAction};
  std::vector<int32_t> queries = {kState, kAction, kAction, kAction};
  std::vector<uint8_t> allow = allow_table();
  auto out = call_op("block_mask", {{"segments", view_of(queries, Shape{4})},
                                    {"key_segments", view_of(keys, Shape{9})},
                                    {"allow", view_of(allow, Shape{5, 5})}});
  VLA_EXPECT(out[0].view.shape == (Shape{1, 4, 9}));
  std::vector<uint8_t> mask = values_of<uint8_t>(out[0]);
  std::vector<uint8_t> expect = {1, 1, 1, 1, 1, 1, 0, 0, 0,   // state
                                 1, 1, 1, 1, 1, 0, 1, 1, 1};  // actions
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 9; ++j) VLA_EXPECT(mask[i * 9 + j] == expect[(i == 0 ? 0 : 1) * 9 + j]) << i << j;
}

VLA_TEST(block_mask, errors) {
  std::vector<uint8_t> allow = allow_table();
  std::vector<int32_t> seg = {0, 1, 5, 2};
  VLA_EXPECT_THROWS(call_op("block_mask", {{"segments", view_of(seg, Shape{2, 2})}, {"allow", view_of(allow, Shape{5, 5})}}),
                    ErrorCode::kValue, "block_mask: input 'segments' has value 5 at [1, 0], outside [0, S = 5)");
  seg[2] = 1;
  VLA_EXPECT_THROWS(call_op("block_mask", {{"segments", view_of(seg, Shape{4})}, {"allow", view_of(allow, Shape{1, 25})}}),
                    ErrorCode::kShape, "input 'allow' has shape [1, 25], expected [S, S] with S >= 1");
  std::vector<int32_t> keys = {0, 0, 0};
  VLA_EXPECT_THROWS(call_op("block_mask", {{"segments", view_of(seg, Shape{2, 2})},
                                           {"key_segments", view_of(keys, Shape{3, 1})},
                                           {"allow", view_of(allow, Shape{5, 5})}}),
                    ErrorCode::kShape, "input 'key_segments' has shape [3, 1], expected [2, Tk] or [Tk]");
  VLA_EXPECT_THROWS(call_op("block_mask", {{"segments", view_of(seg, Shape{1, 2, 2})}, {"allow", view_of(allow, Shape{5, 5})}}),
                    ErrorCode::kShape, "input 'segments' has shape [1, 2, 2], expected [T] or [B, T]");
  allow[7] = 3;
  VLA_EXPECT_THROWS(call_op("block_mask", {{"segments", view_of(seg, Shape{4})}, {"allow", view_of(allow, Shape{5, 5})}}),
                    ErrorCode::kValue, "input 'allow' has value 3 at [1, 2]; expected 0 or 1");
  // T = 0 works.
  std::vector<int32_t> none;
  allow[7] = 1;
  VLA_EXPECT(call_op("block_mask", {{"segments", view_of(none, Shape{0})}, {"allow", view_of(allow, Shape{5, 5})}})[0]
                 .view.shape == (Shape{1, 0, 0}));
}

}  // namespace vla::test
