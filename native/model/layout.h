// Token layout of the Mixture-of-Transformers: segments, the attention mask, RoPE positions and
// gradient routing (see config.h for the rules in words).
//
// A forward "pass" computes some segments (the active ones) against a key layout: the ordered
// segments whose keys/values live in the shared per-layer K/V buffers [B, Tk, Hkv, D]. Keys of
// segments not computed yet are masked out, so one buffer serves a whole sequence of passes
// (acting: the prefix once, then the action segment for each denoising step).
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace vla {

enum class Seg : int { kObs = 0, kPrompt = 1, kAction = 2, kState = 3 };
constexpr int kNumSegs = 4;

// The expert that owns a segment's rows: observation and prompt rows are the backbone's.
enum class Expert : int { kBackbone = 0, kAction = 1, kState = 2 };
inline Expert expert_of(Seg s) {
  return s == Seg::kAction ? Expert::kAction : s == Seg::kState ? Expert::kState : Expert::kBackbone;
}

int64_t segment_len(const ModelConfig& c, Seg s);

// Rows of `query` may attend keys of `key` (before per-sample padding and prompt drop).
// Observation rows attend the prompt only when the config says so (obs_attends_prompt).
bool segment_attends(Seg query, Seg key, bool obs_attends_prompt = false);

// Gradient routing (TTT-VLA): may the gradient of a (query -> key) attention edge flow into
// that key's K/V? The action loss reaches the backbone through observation keys only (never
// the prompt); the state loss reaches the prompt, never the observation rows. A prompt-only
// action update (EVOLVE with prompt-only parameters) opens the action -> prompt edge.
// When observation rows attend the prompt (obs_attends_prompt), a loss reaches the prompt
// through them too: `through_obs` opens the edges between observation and prompt rows (and
// state -> observation) for a backward pass of one loss whose observation rows accumulate no
// weight gradients (policy.cc runs the action and the state loss as separate passes then).
struct GradientRouting {
  bool action_to_prompt = false;
  bool obs_attends_prompt = false;
  bool through_obs = false;
  bool flows(Seg query, Seg key) const;
};

class KeyLayout {
 public:
  KeyLayout(const ModelConfig& cfg, std::vector<Seg> segments);
  const std::vector<Seg>& segments() const { return segs_; }
  bool has(Seg s) const { return offset_[static_cast<int>(s)] >= 0; }
  int64_t offset(Seg s) const;  // first key column of the segment
  int64_t len(Seg s) const { return len_[static_cast<int>(s)]; }
  int64_t total() const { return total_; }

 private:
  std::vector<Seg> segs_;
  int64_t offset_[kNumSegs] = {-1, -1, -1, -1};
  int64_t len_[kNumSegs] = {0, 0, 0, 0};
  int64_t total_ = 0;
};

// Per-sample facts that shape the mask and positions.
struct SampleTokens {
  const int32_t* text = nullptr;         // [B, L] token ids, 0 = <pad>
  const uint8_t* drop_prompt = nullptr;  // [B] 1 = the action rows do not see the prompt (or null)
};

// mask [B, len(query), Tk]: 1 where query rows may attend; keys of segments not in `valid`
// (not computed yet) are blocked.
void build_query_mask(const ModelConfig& cfg, const KeyLayout& keys, Seg query, const std::vector<Seg>& valid,
                      const SampleTokens& tokens, int64_t B, uint8_t* mask);

// RoPE positions [B, len(seg)]: observation tokens count up over valid (non-pad) tokens, prompt
// tokens continue after them, and each suffix segment (action, state) starts right after the prefix.
void build_positions(const ModelConfig& cfg, Seg seg, const SampleTokens& tokens, int64_t B, int32_t* positions);

}  // namespace vla
