#include "model/layout.h"

#include <cstring>

#include "core/error.h"

namespace vla {

int64_t segment_len(const ModelConfig& c, Seg s) {
  switch (s) {
    case Seg::kObs: return c.obs_len();
    case Seg::kPrompt: return c.prompt_len();
    case Seg::kAction: return c.action_len();
    case Seg::kState: return c.state_len();
  }
  return 0;
}

bool segment_attends(Seg q, Seg k, bool obs_attends_prompt) {
  switch (q) {
    case Seg::kObs: return k == Seg::kObs || (obs_attends_prompt && k == Seg::kPrompt);
    case Seg::kPrompt: return k == Seg::kObs || k == Seg::kPrompt;
    case Seg::kAction: return k == Seg::kObs || k == Seg::kPrompt || k == Seg::kAction;
    case Seg::kState: return k == Seg::kObs || k == Seg::kPrompt || k == Seg::kState;
  }
  return false;
}

bool GradientRouting::flows(Seg q, Seg k) const {
  if (!segment_attends(q, k, obs_attends_prompt)) return false;
  switch (k) {
    case Seg::kObs: return q == Seg::kObs || q == Seg::kAction || (through_obs && (q == Seg::kPrompt || q == Seg::kState));
    case Seg::kPrompt:
      return q == Seg::kPrompt || q == Seg::kState || (q == Seg::kAction && action_to_prompt) || (q == Seg::kObs && through_obs);
    case Seg::kAction: return q == Seg::kAction;
    case Seg::kState: return q == Seg::kState;
  }
  return false;
}

KeyLayout::KeyLayout(const ModelConfig& cfg, std::vector<Seg> segments) : segs_(std::move(segments)) {
  for (Seg s : segs_) {
    int i = static_cast<int>(s);
    if (offset_[i] >= 0) fail(ErrorCode::kInternal, "KeyLayout: segment listed twice");
    offset_[i] = total_;
    len_[i] = segment_len(cfg, s);
    total_ += len_[i];
  }
}

int64_t KeyLayout::offset(Seg s) const {
  int64_t o = offset_[static_cast<int>(s)];
  if (o < 0) fail(ErrorCode::kInternal, "KeyLayout: segment not in the layout");
  return o;
}

namespace {
bool contains(const std::vector<Seg>& v, Seg s) {
  for (Seg x : v)
    if (x == s) return true;
  return false;
}
}  // namespace

void build_query_mask(const ModelConfig& cfg, const KeyLayout& keys, Seg query, const std::vector<Seg>& valid,
                      const SampleTokens& tokens, int64_t B, uint8_t* mask) {
  const int64_t Tq = segment_len(cfg, query), Tk = keys.total();
  const int64_t P = cfg.num_patches(), L = cfg.max_text_len;
  std::memset(mask, 0, static_cast<size_t>(B * Tq * Tk));
  for (int64_t b = 0; b < B; ++b) {
    uint8_t* mb = mask + b * Tq * Tk;
    for (Seg k : keys.segments()) {
      if (!contains(valid, k) || !segment_attends(query, k, cfg.obs_attends_prompt)) continue;
      if (query == Seg::kAction && k == Seg::kPrompt && tokens.drop_prompt && tokens.drop_prompt[b]) continue;
      const int64_t off = keys.offset(k), len = keys.len(k);
      for (int64_t i = 0; i < Tq; ++i) {
        uint8_t* row = mb + i * Tk + off;
        for (int64_t j = 0; j < len; ++j) row[j] = 1;
        // Padding tokens of the instruction are never attended.
        if (k == Seg::kObs && tokens.text)
          for (int64_t j = 0; j < L; ++j)
            if (tokens.text[b * L + j] == 0) row[P + j] = 0;
      }
    }
  }
}

void build_positions(const ModelConfig& cfg, Seg seg, const SampleTokens& tokens, int64_t B, int32_t* positions) {
  const int64_t P = cfg.num_patches(), L = cfg.max_text_len, K = cfg.prompt_len();
  const int64_t len = segment_len(cfg, seg);
  for (int64_t b = 0; b < B; ++b) {
    int32_t valid_text = 0;
    for (int64_t j = 0; j < L; ++j) valid_text += tokens.text && tokens.text[b * L + j] != 0 ? 1 : 0;
    int32_t* pos = positions + b * len;
    if (seg == Seg::kObs) {
      int32_t p = 0;
      for (int64_t i = 0; i < P; ++i) pos[i] = p++;
      for (int64_t j = 0; j < L; ++j) {
        bool is_pad = tokens.text && tokens.text[b * L + j] == 0;
        pos[P + j] = is_pad ? (p > 0 ? p - 1 : 0) : p++;
      }
    } else {
      const int32_t prefix_end = static_cast<int32_t>(P) + valid_text;
      const int32_t start = seg == Seg::kPrompt ? prefix_end : prefix_end + static_cast<int32_t>(K);
      for (int64_t i = 0; i < len; ++i) pos[i] = start + static_cast<int32_t>(i);
    }
  }
}

}  // namespace vla
