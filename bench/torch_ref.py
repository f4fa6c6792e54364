#!/usr/bin/python3
"""PyTorch reference of the vla-ttt policy: the same model as native/model, written the way a
PyTorch user would write it (openpi / LeRobot style), for parity checks and benchmarks.

It loads vla-ttt safetensors checkpoints (config and vocabulary from the header metadata, tensors
by name; docs/weights.md) and implements, in float32 or float64:

- the observation embedding (patches scaled to [-1, 1], ``embed.patch`` + ``embed.pos``, text
  embedding, the latent prompt block chosen by embodiment);
- the Mixture-of-Transformers layers: per-expert RMSNorm, Q/K/V/O, RoPE (rotate-half), GeGLU,
  one attention over the tokens of all experts with the block mask of native/model/config.h
  (padding tokens never attended; RoPE positions count non-padding tokens);
- the flow heads with sinusoidal time features; ``predict`` (one full pass), ``act`` (10 Euler
  steps, the prefix encoded once into a KV cache and only the action tokens re-run per step);
- the action and state flow-matching losses (openpi conventions) with TTT-VLA's gradient routing
  done the PyTorch way: ``.detach()`` of the prompt keys/values for the action queries, of the
  observation keys/values for the prompt and state queries, and backbone weights detached for the
  prompt rows (native/model/layout.cc ``GradientRouting::flows``, policy.cc ``weight_grads``);
- ``prompt_step`` (state loss, gradient to the prompt only, AdamW) and ``train_step`` (joint loss,
  AdamW over every parameter with global-norm clipping), with the native hyperparameters;
- the native Philox draws (native/core/random.h, native/model/flow_draws.cc), so a step here can
  use exactly the noise and times of a native ``trainStep`` / ``promptStep``.

Commands (run with /usr/bin/python3, the interpreter that has torch):

    torch_ref.py parity DIR.. reads DIR/manifest.json (a checkpoint and input arrays written by
                              test/torch-parity.test.ts), writes DIR/out/manifest.json + arrays
    torch_ref.py bench        a JSON-lines server on stdin/stdout for bench/model.bench.mjs

Array directories: ``manifest.json`` holds ``{"arrays": {name: {"file", "dtype", "shape"}}, ...}``
and every array is a raw little-endian, row-major file (dtype uint8, int32, float32 or float64).
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Optional

import numpy as np
import torch
import torch.nn.functional as F

# ---- array directories ---------------------------------------------------------------------------

NUMPY_DTYPES = {"uint8": np.uint8, "int32": np.int32, "float32": np.float32, "float64": np.float64}
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def read_arrays(directory: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Reads an array directory: (arrays by name, the whole manifest)."""
    with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    arrays: dict[str, np.ndarray] = {}
    for name, info in manifest["arrays"].items():
        dtype = np.dtype(NUMPY_DTYPES[info["dtype"]]).newbyteorder("<")
        data = np.fromfile(os.path.join(directory, info["file"]), dtype=dtype)
        shape = tuple(int(s) for s in info["shape"])
        if data.size != int(np.prod(shape)):
            raise ValueError(f"{directory}/{info['file']}: {data.size} elements, manifest shape {list(shape)}")
        arrays[name] = data.reshape(shape)
    return arrays, manifest


def write_arrays(directory: str, arrays: dict[str, np.ndarray], extra: dict[str, Any]) -> None:
    """Writes arrays (one raw file each) and a manifest with `extra` merged in."""
    os.makedirs(directory, exist_ok=True)
    entries = {}
    for i, (name, a) in enumerate(arrays.items()):
        dtype = {np.dtype(v): k for k, v in NUMPY_DTYPES.items()}[a.dtype]
        file = f"a{i:04d}.bin"
        np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tofile(os.path.join(directory, file))
        entries[name] = {"file": file, "dtype": dtype, "shape": list(a.shape)}
    with open(os.path.join(directory, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump({**extra, "arrays": entries}, f)


# ---- safetensors (read by hand: the `safetensors` package is not available here) -----------------


def read_safetensors(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors (F32/F64/F16/BF16, widened to float32 or kept float64) and the metadata of a file:
    8-byte little-endian header length, JSON header, raw buffer."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        raise ValueError(f"{path}: header length {header_len} runs past the end of the file")
    header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    base = 8 + header_len
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        shape = tuple(int(s) for s in info["shape"])
        raw = data[base + begin : base + end]
        kind = info["dtype"]
        if kind == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif kind == "F64":
            a = np.frombuffer(raw, dtype="<f8")
        elif kind == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif kind == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"{path}: tensor '{name}' has dtype {kind} (F32, F64, F16 or BF16 expected)")
        if a.size != int(np.prod(shape)):
            raise ValueError(f"{path}: tensor '{name}' has {a.size} elements for shape {list(shape)}")
        tensors[name] = a.reshape(shape)
    return tensors, metadata


# ---- configuration and parameter names -----------------------------------------------------------


@dataclass(frozen=True)
class ExpertDims:
    width: int
    mlp_dim: int


@dataclass(frozen=True)
class ModelConfig:
    """native/model/config.h, read from the checkpoint's `config` metadata (unknown keys rejected)."""

    preset: str
    image_size: int
    patch_size: int
    max_text_len: int
    vocab_size: int
    depth: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    backbone: ExpertDims
    action: ExpertDims
    state: ExpertDims
    num_prompt_tokens: int
    num_embodiments: int
    use_prompt: bool
    use_state_expert: bool
    horizon: int
    action_dim: int
    state_dim: int
    time_min_period: float
    time_max_period: float
    sample_steps: int
    rope_theta: float
    rms_eps: float

    @staticmethod
    def from_json(d: dict[str, Any]) -> "ModelConfig":
        fields = set(ModelConfig.__dataclass_fields__)
        unknown = set(d) - fields
        missing = fields - set(d)
        if unknown or missing:
            raise ValueError(f"model config: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
        kw = dict(d)
        for e in ("backbone", "action", "state"):
            kw[e] = ExpertDims(int(d[e]["width"]), int(d[e]["mlp_dim"]))
        return ModelConfig(**kw)

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def patch_dim(self) -> int:
        return self.patch_size * self.patch_size * 3

    @property
    def prompt_len(self) -> int:
        return self.num_prompt_tokens if self.use_prompt else 0

    @property
    def obs_len(self) -> int:
        return self.num_patches + self.max_text_len

    @property
    def q_dim(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    def expert(self, name: str) -> ExpertDims:
        return {"backbone": self.backbone, "action": self.action, "state": self.state}[name]


LAYER_TENSORS = ("attn_norm.weight", "q.weight", "k.weight", "v.weight", "o.weight", "mlp_norm.weight", "mlp.up.weight", "mlp.down.weight")


def parameter_table(c: ModelConfig) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, shape, group) of every parameter, in the native layout order (native/model/params.cc)."""
    wb = c.backbone.width
    out: list[tuple[str, tuple[int, ...], str]] = [
        ("embed.patch.weight", (wb, c.patch_dim), "embed"),
        ("embed.patch.bias", (wb,), "embed"),
        ("embed.pos", (c.num_patches, wb), "embed"),
        ("embed.text", (c.vocab_size, wb), "embed"),
    ]
    if c.use_prompt:
        out.append(("prompt", (c.num_embodiments, c.num_prompt_tokens, wb), "prompt"))
    experts = [("backbone", c.backbone), ("action", c.action)] + ([("state", c.state)] if c.use_state_expert else [])
    for l in range(c.depth):
        for name, dims in experts:
            w, f = dims.width, dims.mlp_dim
            shapes = [(w,), (c.q_dim, w), (c.kv_dim, w), (c.kv_dim, w), (w, c.q_dim), (w,), (2 * f, w), (w, f)]
            for t, s in zip(LAYER_TENSORS, shapes):
                out.append((f"layers.{l}.{name}.{t}", s, name))

    def head(prefix: str, w: int, x_dim: int, with_state_proj: bool, group: str) -> None:
        if with_state_proj:
            out.extend([(prefix + "state_proj.weight", (w, c.state_dim), group), (prefix + "state_proj.bias", (w,), group)])
        out.extend(
            [
                (prefix + "in_proj.weight", (w, x_dim), group),
                (prefix + "in_proj.bias", (w,), group),
                (prefix + "time_mlp_in.weight", (w, 2 * w), group),
                (prefix + "time_mlp_in.bias", (w,), group),
                (prefix + "time_mlp_out.weight", (w, w), group),
                (prefix + "time_mlp_out.bias", (w,), group),
                (prefix + "final_norm.weight", (w,), group),
                (prefix + "out_proj.weight", (x_dim, w), group),
                (prefix + "out_proj.bias", (x_dim,), group),
            ]
        )

    head("action.", c.action.width, c.action_dim, True, "action")
    if c.use_state_expert:
        head("state.", c.state.width, c.state_dim, False, "state")
    return out


# ---- Philox draws (bit-exact with native/core/random.h) ------------------------------------------

_MASK32 = np.uint64(0xFFFFFFFF)


def philox4x32(seed: int, c0: np.ndarray, c1: np.ndarray, c2: np.ndarray, c3: np.ndarray) -> tuple[np.ndarray, ...]:
    """Philox4x32-10 on uint64 arrays holding 32-bit words (vectorized over counters)."""
    m0, m1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
    k0, k1 = seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF
    for _ in range(10):
        p0 = m0 * c0
        p1 = m1 * c2
        hi0, lo0 = p0 >> np.uint64(32), p0 & _MASK32
        hi1, lo1 = p1 >> np.uint64(32), p1 & _MASK32
        c0, c1, c2, c3 = hi1 ^ c1 ^ np.uint64(k0), lo1, hi0 ^ c3 ^ np.uint64(k1), lo0
        k0 = (k0 + 0x9E3779B9) & 0xFFFFFFFF
        k1 = (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return c0, c1, c2, c3


def _philox_words(seed: int, stream: int, n: int) -> tuple[np.ndarray, ...]:
    i = np.arange(n, dtype=np.uint64)
    c2 = np.full(n, stream & 0xFFFFFFFF, dtype=np.uint64)
    c3 = np.full(n, (stream >> 32) & 0xFFFFFFFF, dtype=np.uint64)
    return philox4x32(seed, i & _MASK32, i >> np.uint64(32), c2, c3)


def philox_uniform(seed: int, stream: int, n: int) -> np.ndarray:
    """Rng(seed, stream).uniform_at(i) for i < n: 53 random bits, in (0, 1)."""
    r0, r1, _, _ = _philox_words(seed, stream, n)
    bits = ((r0 << np.uint64(21)) ^ r1) & np.uint64((1 << 53) - 1)
    return (bits.astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def philox_normal(seed: int, stream: int, n: int) -> np.ndarray:
    """Rng(seed, stream).normal_at(i) for i < n: Box-Muller on two uniforms of one counter."""
    r0, r1, r2, _ = _philox_words(seed, stream, n)
    u1 = ((r0.astype(np.float64) * 4294967296.0 + r1.astype(np.float64)) + 0.5) * (1.0 / 18446744073709551616.0)
    u2 = (r2.astype(np.float64) + 0.5) * (1.0 / 4294967296.0)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(6.283185307179586 * u2)


class FlowDraws(NamedTuple):
    action_noise: np.ndarray  # [B * action_elems] float64
    action_time: np.ndarray  # [B]
    state_noise: np.ndarray  # [B * state_dim]
    state_time: np.ndarray  # [B]
    drop_prompt: np.ndarray  # [B] uint8


def draw_flow(seed: int, step: int, batch: int, action_elems: int, state_dim: int, drop_probability: float) -> FlowDraws:
    """native/model/flow_draws.cc: noise ~ N(0, I), t = Beta(1.5, 1) * 0.999 + 0.001, drops ~ Bernoulli(p)."""
    base = step * 8
    action_time = np.power(philox_uniform(seed, base + 2, batch), 1.0 / 1.5) * 0.999 + 0.001
    state_time = np.power(philox_uniform(seed, base + 4, batch), 1.0 / 1.5) * 0.999 + 0.001
    drop = (philox_uniform(seed, base + 5, batch) < drop_probability).astype(np.uint8)
    return FlowDraws(
        philox_normal(seed, base + 1, batch * action_elems), action_time, philox_normal(seed, base + 3, batch * state_dim), state_time, drop
    )


# ---- the model -----------------------------------------------------------------------------------

OBS, PROMPT, ACTION, STATE = "obs", "prompt", "action", "state"
EXPERT_OF = {OBS: "backbone", PROMPT: "backbone", ACTION: "action", STATE: "state"}
# Rows of a segment attend keys of these segments (native/model/layout.cc segment_attends).
ATTENDS = {OBS: (OBS,), PROMPT: (OBS, PROMPT), ACTION: (OBS, PROMPT, ACTION), STATE: (OBS, PROMPT, STATE)}


def gradient_flows(query: str, key: str, action_to_prompt: bool = False) -> bool:
    """TTT-VLA routing (layout.cc GradientRouting::flows): may the loss reach `key`'s K/V through
    the attention of `query` rows? The action loss reaches the backbone through observation keys
    only; the state loss reaches the prompt, never the observation rows."""
    if key not in ATTENDS[query]:
        return False
    if key == OBS:
        return query in (OBS, ACTION)
    if key == PROMPT:
        return query in (PROMPT, STATE) or (query == ACTION and action_to_prompt)
    return key == query


class ExpertLayer(NamedTuple):
    attn_norm: torch.Tensor
    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    o: torch.Tensor
    mlp_norm: torch.Tensor
    up: torch.Tensor  # [2F, w]: rows [0, F) gate, [F, 2F) up
    down: torch.Tensor


@dataclass
class Observations:
    images: torch.Tensor  # uint8 [B, S, S, 3]
    text: torch.Tensor  # int64 [B, L], 0 = <pad>
    state: torch.Tensor  # [B, state_dim]
    embodiment: torch.Tensor  # int64 [B]

    @property
    def batch(self) -> int:
        return int(self.images.shape[0])


@dataclass
class FlowTargets:
    actions: Optional[torch.Tensor] = None  # [B, H, A]
    action_noise: Optional[torch.Tensor] = None  # [B, H, A]
    action_time: Optional[torch.Tensor] = None  # [B]
    state_noise: Optional[torch.Tensor] = None  # [B, state_dim]
    state_time: Optional[torch.Tensor] = None  # [B]
    drop_prompt: Optional[torch.Tensor] = None  # bool [B]: the action rows do not see the prompt


@dataclass
class Segment:
    """Rows that run through the layers together, with one expert's weights."""

    name: str  # the key-cache name of its rows
    parts: tuple[str, ...]  # base segments (OBS, PROMPT, ACTION, STATE) in row order
    weights: list[ExpertLayer]  # one per layer (detached for rows that must not train them)
    x: torch.Tensor  # [B, T, w]
    rope: tuple[torch.Tensor, torch.Tensor]  # cos, sin [B, T, 1, D/2]
    keys: list[tuple[str, bool]]  # (key segment name, gradient flows into its K/V) in key order
    bias: torch.Tensor  # [B, 1, Tq or 1, Tk] additive mask: 0 allowed, -inf blocked
    tail: bool  # the last layer's out-projection and MLP run (a head reads the output)


@dataclass
class Losses:
    total: torch.Tensor
    action: Optional[torch.Tensor]
    state: Optional[torch.Tensor]
    action_per_sample: Optional[torch.Tensor]
    state_per_sample: Optional[torch.Tensor]


def rmsnorm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    """y = x * rstd * w with rstd = 1 / sqrt(mean(x^2) + eps) (native/ops/rmsnorm.h)."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate-half RoPE on [B, T, H, D]: dimension i pairs with i + D/2 (native/ops/rope.h)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, scale: float) -> torch.Tensor:
    """Softmax attention with grouped KV heads: q [B, Tq, Hq, D], k/v [B, Tk, Hkv, D], query head h
    reads KV head h // (Hq / Hkv); bias [B, 1, Tq|1, Tk]. Returns [B, Tq, Hq * D]."""
    B, Tq, Hq, D = q.shape
    Tk, Hkv = k.shape[1], k.shape[2]
    group = Hq // Hkv
    qh = q.transpose(1, 2)  # [B, Hq, Tq, D]
    kh = k.transpose(1, 2)
    vh = v.transpose(1, 2)
    if group > 1:  # repeat_kv, as in the HF Gemma / openpi code
        kh = kh[:, :, None].expand(B, Hkv, group, Tk, D).reshape(B, Hq, Tk, D)
        vh = vh[:, :, None].expand(B, Hkv, group, Tk, D).reshape(B, Hq, Tk, D)
    scores = torch.matmul(qh, kh.transpose(-1, -2)) * scale + bias
    probs = torch.softmax(scores, dim=-1)
    return torch.matmul(probs, vh).transpose(1, 2).reshape(B, Tq, Hq * D)


class TorchPolicy:
    """The vla-ttt policy in PyTorch: parameters by checkpoint name, in one dtype."""

    def __init__(
        self, cfg: ModelConfig, tensors: dict[str, np.ndarray], dtype: torch.dtype, vocab: Optional[list[str]] = None, device: str | torch.device = "cpu"
    ):
        self.cfg = cfg
        self.dtype = dtype
        self.device = torch.device(device)  # weights and every tensor made here; inputs must be on it too
        self.vocab = vocab
        self.table = parameter_table(cfg)
        self.group_of = {name: group for name, _, group in self.table}
        expected = {name: shape for name, shape, _ in self.table}
        missing = [n for n in expected if n not in tensors]
        unknown = [n for n in tensors if n not in expected]
        if missing or unknown:
            raise ValueError(f"checkpoint: missing tensors {missing}, unknown tensors {unknown}")
        self.params: dict[str, torch.Tensor] = {}
        for name, shape in expected.items():
            a = tensors[name]
            if tuple(a.shape) != shape:
                raise ValueError(f"checkpoint: tensor '{name}' has shape {list(a.shape)}, expected {list(shape)}")
            self.params[name] = torch.from_numpy(np.array(a, dtype=np.float64)).to(device=self.device, dtype=dtype).contiguous()
        self.set_trainable(set())
        self.layers = {e: [self._layer(e, l) for l in range(cfg.depth)] for e in self._experts()}
        self.scale = 1.0 / math.sqrt(cfg.head_dim)

    @staticmethod
    def load(path: str, dtype: torch.dtype, device: str | torch.device = "cpu") -> "TorchPolicy":
        """Loads a checkpoint written by Policy.save (docs/weights.md)."""
        tensors, meta = read_safetensors(path)
        if meta.get("format") != "vla-ttt-policy" or meta.get("format_version") != "1":
            raise ValueError(f"{path}: not a vla-ttt policy checkpoint of format version 1")
        cfg = ModelConfig.from_json(json.loads(meta["config"]))
        vocab = json.loads(meta["vocab"]) if "vocab" in meta else None
        return TorchPolicy(cfg, tensors, dtype, vocab, device)

    def _experts(self) -> list[str]:
        return ["backbone", "action"] + (["state"] if self.cfg.use_state_expert else [])

    def _layer(self, expert: str, l: int) -> ExpertLayer:
        return ExpertLayer(*(self.params[f"layers.{l}.{expert}.{t}"] for t in LAYER_TENSORS))

    def set_trainable(self, groups: set[str]) -> list[torch.Tensor]:
        """requires_grad on the parameters of `groups` only; returns them in layout order."""
        out = []
        for name, p in self.params.items():
            p.requires_grad_(self.group_of[name] in groups)
            p.grad = None
            if p.requires_grad:
                out.append(p)
        return out

    # ---- layout: positions, masks -----------------------------------------------------------------

    def segment_len(self, seg: str) -> int:
        c = self.cfg
        return {OBS: c.obs_len, PROMPT: c.prompt_len, ACTION: 1 + c.horizon, STATE: 1 if c.use_state_expert else 0}[seg]

    def positions(self, seg: str, text: torch.Tensor) -> torch.Tensor:
        """RoPE positions [B, len] (layout.cc build_positions): patches 0..P-1, instruction tokens
        counting only non-padding tokens (a pad repeats the previous position), the prompt after
        them, and each suffix segment starting right after the prefix."""
        c = self.cfg
        P = c.num_patches
        valid = (text != 0).to(torch.int64)
        B = text.shape[0]
        if seg == OBS:
            text_pos = P + torch.cumsum(valid, dim=1) - 1
            return torch.cat([torch.arange(P, dtype=torch.int64, device=self.device).expand(B, P), text_pos], dim=1)
        start = P + valid.sum(dim=1) + (c.prompt_len if seg in (ACTION, STATE) else 0)
        return start[:, None] + torch.arange(self.segment_len(seg), dtype=torch.int64, device=self.device)

    def rope_tables(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos/sin of pos * theta^(-2i/D), computed in float64 (as native) and cast: [B, T, 1, D/2]."""
        D = self.cfg.head_dim
        inv_freq = torch.tensor([self.cfg.rope_theta ** (-2.0 * i / D) for i in range(D // 2)], dtype=torch.float64, device=self.device)
        angle = positions.to(torch.float64)[..., None] * inv_freq
        return torch.cos(angle).to(self.dtype)[:, :, None, :], torch.sin(angle).to(self.dtype)[:, :, None, :]

    def allowed_keys(self, query: str, key: str, text: torch.Tensor, drop_prompt: Optional[torch.Tensor]) -> torch.Tensor:
        """bool [B, len(key)]: may rows of `query` attend the keys of `key` (layout.cc build_query_mask)."""
        B = text.shape[0]
        n = self.segment_len(key)
        if key not in ATTENDS[query]:
            return torch.zeros(B, n, dtype=torch.bool, device=self.device)
        if key == OBS:  # padding tokens of the instruction are never attended
            return torch.cat([torch.ones(B, self.cfg.num_patches, dtype=torch.bool, device=self.device), text != 0], dim=1)
        if key == PROMPT and query == ACTION and drop_prompt is not None:
            return (~drop_prompt)[:, None].expand(B, n)
        return torch.ones(B, n, dtype=torch.bool, device=self.device)

    def mask_bias(self, query_parts: tuple[str, ...], key_parts: list[str], text: torch.Tensor, drop_prompt: Optional[torch.Tensor]) -> torch.Tensor:
        """Additive mask [B, 1, Tq|1, Tk] of query rows (base segments `query_parts`) over keys."""
        rows = []
        for qp in query_parts:
            allowed = torch.cat([self.allowed_keys(qp, kp, text, drop_prompt) for kp in key_parts], dim=1)
            rows.append(allowed[:, None, :].expand(-1, self.segment_len(qp) if len(query_parts) > 1 else 1, -1))
        allowed = torch.cat(rows, dim=1)
        bias = torch.zeros(allowed.shape, dtype=self.dtype, device=self.device).masked_fill_(~allowed, float("-inf"))
        return bias[:, None]

    # ---- embeddings and heads ----------------------------------------------------------------------

    def embed_observations(self, obs: Observations) -> torch.Tensor:
        """[B, P + L, wb]: patch rows (pixels scaled to [-1, 1], flattened row by row, RGB per pixel)
        plus position embeddings, then the instruction's token embeddings."""
        c, p = self.cfg, self.params
        B, S, ps = obs.batch, c.image_size, c.patch_size
        G = S // ps
        pixels = obs.images.to(self.dtype) * (1.0 / 127.5) - 1.0
        patches = pixels.view(B, G, ps, G, ps, 3).permute(0, 1, 3, 2, 4, 5).reshape(B, G * G, c.patch_dim)
        patch_rows = F.linear(patches, p["embed.patch.weight"], p["embed.patch.bias"]) + p["embed.pos"]
        return torch.cat([patch_rows, F.embedding(obs.text, p["embed.text"])], dim=1)

    def embed_prompt(self, obs: Observations) -> torch.Tensor:
        """[B, K, wb]: the prompt block of each sample's embodiment (hard router)."""
        return self.params["prompt"][obs.embodiment]

    def time_features(self, t: torch.Tensor, width: int) -> torch.Tensor:
        """[B, width] = [sin | cos](2 pi t / period), periods min * (max/min)^(i / (w/2 - 1)) (pi0)."""
        c = self.cfg
        half = width // 2
        frac = torch.arange(half, dtype=torch.float64, device=self.device) / (half - 1) if half > 1 else torch.zeros(half, dtype=torch.float64, device=self.device)
        period = c.time_min_period * (c.time_max_period / c.time_min_period) ** frac
        arg = 2.0 * math.pi * t.to(torch.float64)[:, None] / period
        return torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1).to(self.dtype)

    def head_embed(self, head: str, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """time_mlp_out(swish(time_mlp_in([in_proj(x_t) | time features(t)]))): [B, N, w]."""
        p = self.params
        proj = F.linear(x_t, p[f"{head}.in_proj.weight"], p[f"{head}.in_proj.bias"])
        feats = self.time_features(t, proj.shape[-1])[:, None, :].expand_as(proj)
        u = F.linear(torch.cat([proj, feats], dim=-1), p[f"{head}.time_mlp_in.weight"], p[f"{head}.time_mlp_in.bias"])
        return F.linear(F.silu(u), p[f"{head}.time_mlp_out.weight"], p[f"{head}.time_mlp_out.bias"])

    def head_out(self, head: str, fin: torch.Tensor) -> torch.Tensor:
        """v = out_proj(rmsnorm(fin) * final_norm)."""
        p = self.params
        return F.linear(rmsnorm(fin, p[f"{head}.final_norm.weight"], self.cfg.rms_eps), p[f"{head}.out_proj.weight"], p[f"{head}.out_proj.bias"])

    # ---- the layer stack ---------------------------------------------------------------------------

    def run_layers(
        self, segments: list[Segment], cache: Optional[dict[str, tuple[list[torch.Tensor], list[torch.Tensor]]]] = None, keep_kv: bool = False
    ) -> tuple[dict[str, torch.Tensor], dict[str, tuple[list[torch.Tensor], list[torch.Tensor]]]]:
        """Every layer over `segments` (one attention over all their keys plus `cache`d keys of
        earlier passes). Returns the output rows of tail segments and, with keep_kv, each
        segment's per-layer K (after RoPE) and V for a later pass."""
        c = self.cfg
        B = segments[0].x.shape[0]
        kept: dict[str, tuple[list[torch.Tensor], list[torch.Tensor]]] = {s.name: ([], []) for s in segments} if keep_kv else {}
        xs = {s.name: s.x for s in segments}
        for l in range(c.depth):
            q, k, v = {}, {}, {}
            for s in segments:
                w = s.weights[l]
                T = s.x.shape[1]
                xn = rmsnorm(xs[s.name], w.attn_norm, c.rms_eps)
                cos, sin = s.rope
                q[s.name] = apply_rope(F.linear(xn, w.q).view(B, T, c.num_heads, c.head_dim), cos, sin)
                k[s.name] = apply_rope(F.linear(xn, w.k).view(B, T, c.num_kv_heads, c.head_dim), cos, sin)
                v[s.name] = F.linear(xn, w.v).view(B, T, c.num_kv_heads, c.head_dim)
                if keep_kv:
                    kept[s.name][0].append(k[s.name])
                    kept[s.name][1].append(v[s.name])
            for s in segments:
                ks, vs = [], []
                for key, flows in s.keys:
                    kk, vv = (k[key], v[key]) if key in k else (cache[key][0][l], cache[key][1][l])  # type: ignore[index]
                    ks.append(kk if flows else kk.detach())
                    vs.append(vv if flows else vv.detach())
                att = attention(q[s.name], torch.cat(ks, dim=1), torch.cat(vs, dim=1), s.bias, self.scale)
                if l == c.depth - 1 and not s.tail:
                    continue  # no head reads these rows: only their keys and values mattered
                w = s.weights[l]
                xmid = xs[s.name] + F.linear(att, w.o)
                gate, up = F.linear(rmsnorm(xmid, w.mlp_norm, c.rms_eps), w.up).chunk(2, dim=-1)
                xs[s.name] = xmid + F.linear(F.gelu(gate, approximate="tanh") * up, w.down)
        return {s.name: xs[s.name] for s in segments if s.tail}, kept

    def _segment(
        self,
        name: str,
        parts: tuple[str, ...],
        x: torch.Tensor,
        text: torch.Tensor,
        keys: list[tuple[str, tuple[str, ...], bool]],
        drop_prompt: Optional[torch.Tensor],
        tail: bool,
        frozen_weights: bool = False,
    ) -> Segment:
        """A segment whose rows attend `keys` = [(key segment name, its base parts, gradient flows)]."""
        expert = EXPERT_OF[parts[0]]
        weights = self.layers[expert]
        if frozen_weights:
            weights = [ExpertLayer(*(t.detach() for t in layer)) for layer in weights]
        pos = torch.cat([self.positions(p, text) for p in parts], dim=1)
        key_parts = [kp for _, kps, _ in keys for kp in kps]
        bias = self.mask_bias(parts, key_parts, text, drop_prompt)
        return Segment(name, parts, weights, x, self.rope_tables(pos), [(n, f) for n, _, f in keys], bias, tail)

    # ---- acting and predicting ---------------------------------------------------------------------

    def _prefix_segment(self, obs: Observations) -> Segment:
        """Observation and prompt rows as one backbone segment (forward-only passes)."""
        parts = (OBS, PROMPT) if self.cfg.use_prompt else (OBS,)
        x = self.embed_observations(obs)
        if self.cfg.use_prompt:
            x = torch.cat([x, self.embed_prompt(obs)], dim=1)
        return self._segment("prefix", parts, x, obs.text, [("prefix", parts, True)], None, tail=False)

    def _action_input(self, obs: Observations, cond: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Action-expert rows [state token | H action tokens]: [B, 1 + H, wa]."""
        return torch.cat([cond[:, None, :], self.head_embed("action", x_t, t)], dim=1)

    def _state_token(self, obs: Observations) -> torch.Tensor:
        """The action block's first row: action.state_proj(state), [B, wa]."""
        p = self.params
        return F.linear(obs.state, p["action.state_proj.weight"], p["action.state_proj.bias"])

    def predict(self, obs: Observations, x_t: torch.Tensor, t: torch.Tensor, drop_prompt: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The action field v(x_t, t) [B, H, A] by one full pass (prefix and action rows together)."""
        with torch.inference_mode():
            prefix = self._prefix_segment(obs)
            act_seg = self._segment(
                ACTION, (ACTION,), self._action_input(obs, self._state_token(obs), x_t, t), obs.text,
                [("prefix", prefix.parts, True), (ACTION, (ACTION,), True)], drop_prompt, tail=True,
            )
            out, _ = self.run_layers([prefix, act_seg])
            return self.head_out("action", out[ACTION][:, 1:])

    def act(self, obs: Observations, noise: torch.Tensor, drop_prompt: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Action chunks [B, H, A]: Euler steps from x_1 = noise, t = 1, 1 - 1/n, ..., dt = -1/n. The
        prefix runs once into a KV cache; each step re-runs only the action expert's rows."""
        c = self.cfg
        np_dtype = np.float32 if self.dtype == torch.float32 else np.float64
        steps = c.sample_steps
        with torch.inference_mode():
            prefix = self._prefix_segment(obs)
            _, cache = self.run_layers([prefix], keep_kv=True)
            cond = self._state_token(obs)
            act_keys = [("prefix", prefix.parts, True), (ACTION, (ACTION,), True)]
            # Positions and mask do not change across steps: one segment, new rows each step.
            seg = self._segment(ACTION, (ACTION,), cond[:, None, :], obs.text, act_keys, drop_prompt, tail=True)
            x = noise.to(device=self.device, dtype=self.dtype).clone()
            dt = float(np_dtype(-1) / np_dtype(steps))  # rounded as native rounds it (T arithmetic)
            for k in range(steps):
                t_k = float(np_dtype(1) - np_dtype(k) / np_dtype(steps))
                t = torch.full((obs.batch,), t_k, dtype=self.dtype, device=self.device)
                seg.x = self._action_input(obs, cond, x, t)
                out, _ = self.run_layers([seg], cache=cache)
                x = x + dt * self.head_out("action", out[ACTION][:, 1:])
            return x

    # ---- losses ------------------------------------------------------------------------------------

    def losses(
        self,
        obs: Observations,
        f: FlowTargets,
        action_loss: bool = True,
        state_loss: bool = True,
        state_weight: float = 1.0,
        action_to_prompt: bool = False,
        action_weights: Optional[torch.Tensor] = None,
    ) -> Losses:
        """L = L_action + lambda L_state with TTT-VLA's gradient routing. Segments run separately
        (observation, prompt, action, state rows) so each query segment can see detached K/V
        where the routing forbids the gradient, and the prompt rows use detached backbone weights
        (the backbone never learns from them)."""
        c = self.cfg
        state_on = state_loss and c.use_state_expert
        if not action_loss and not state_on:
            raise ValueError("no loss is enabled")
        layout = [OBS] + ([PROMPT] if c.use_prompt else []) + ([ACTION] if action_loss else []) + ([STATE] if state_on else [])

        def keys_of(query: str) -> list[tuple[str, tuple[str, ...], bool]]:
            return [(k, (k,), gradient_flows(query, k, action_to_prompt)) for k in layout if k in ATTENDS[query]]

        text, drop = obs.text, f.drop_prompt
        segs = [self._segment(OBS, (OBS,), self.embed_observations(obs), text, keys_of(OBS), drop, tail=False)]
        if c.use_prompt:
            segs.append(self._segment(PROMPT, (PROMPT,), self.embed_prompt(obs), text, keys_of(PROMPT), drop, tail=False, frozen_weights=True))
        if action_loss:
            assert f.actions is not None and f.action_noise is not None and f.action_time is not None
            ta = f.action_time[:, None, None]
            x_t = ta * f.action_noise + (1 - ta) * f.actions
            segs.append(self._segment(ACTION, (ACTION,), self._action_input(obs, self._state_token(obs), x_t, f.action_time), text, keys_of(ACTION), drop, tail=True))
        if state_on:
            assert f.state_noise is not None and f.state_time is not None
            ts = f.state_time[:, None]
            xs_t = ts * f.state_noise + (1 - ts) * obs.state
            segs.append(self._segment(STATE, (STATE,), self.head_embed("state", xs_t[:, None, :], f.state_time), text, keys_of(STATE), drop, tail=True))
        out, _ = self.run_layers(segs)

        total = torch.zeros((), dtype=self.dtype, device=self.device)
        la = ls = pa = pst = None
        if action_loss:
            v = self.head_out("action", out[ACTION][:, 1:])
            pa = (v - (f.action_noise - f.actions)).pow(2).mean(dim=(1, 2))  # type: ignore[operator]
            la = (pa * action_weights).mean() if action_weights is not None else pa.mean()
            total = total + la
        if state_on:
            vs = self.head_out("state", out[STATE])[:, 0]
            pst = (vs - (f.state_noise - obs.state)).pow(2).mean(dim=1)  # type: ignore[operator]
            ls = pst.mean()
            total = total + state_weight * ls
        return Losses(total, la, ls, pa, pst)

    # ---- optimization steps -----------------------------------------------------------------------

    def make_optimizer(
        self, params: list[torch.Tensor], lr: float, weight_decay: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> torch.optim.AdamW:
        """AdamW with decoupled weight decay (torch's update equals native/ops/adamw.h's)."""
        return torch.optim.AdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def prompt_step(self, obs: Observations, f: FlowTargets, optimizer: torch.optim.AdamW) -> dict[str, float]:
        """One test-time step: the state-grounding loss, gradient to the prompt only (the caller
        made only the prompt trainable), AdamW. Like native promptStep, only the prompt blocks of
        embodiments present in the batch move (AdamW momentum would otherwise move the others)."""
        prompt = self.params["prompt"]
        optimizer.zero_grad(set_to_none=True)
        res = self.losses(obs, f, action_loss=False, state_loss=True)
        res.total.backward()
        if prompt.grad is None:
            prompt.grad = torch.zeros_like(prompt)
        grad_norm = float(torch.linalg.vector_norm(prompt.grad.to(torch.float64)))
        present = torch.zeros(self.cfg.num_embodiments, dtype=torch.bool, device=self.device)
        present[obs.embodiment] = True
        absent = (~present).nonzero().flatten()
        saved = None
        if len(absent) > 0:
            st = optimizer.state.get(prompt, {})
            saved = [(t, t[absent].clone()) for t in [prompt] + [st[k] for k in ("exp_avg", "exp_avg_sq") if k in st]]
        optimizer.step()
        if saved is not None:
            with torch.no_grad():
                for t, rows in saved:
                    t[absent] = rows
        return {"total": float(res.total), "state": float(res.state), "grad_norm": grad_norm}  # type: ignore[arg-type]

    def train_step(
        self, obs: Observations, f: FlowTargets, optimizer: torch.optim.AdamW, params: list[torch.Tensor], max_grad_norm: float = 1.0, state_weight: float = 1.0
    ) -> dict[str, Any]:
        """One supervised step: joint loss with routing, backward, global-norm clipping (scale by
        max/norm when norm > max, the norm accumulated in float64, as native), AdamW on `params`."""
        optimizer.zero_grad(set_to_none=True)
        res = self.losses(obs, f, action_loss=True, state_loss=True, state_weight=state_weight)
        res.total.backward()
        for p in params:
            if p.grad is None:  # native decays every trained element, gradient or not
                p.grad = torch.zeros_like(p)
        grad_norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad, dtype=torch.float64) for p in params])))  # type: ignore[arg-type]
        clipped = max_grad_norm > 0 and grad_norm > max_grad_norm
        if clipped:
            scale = max_grad_norm / grad_norm
            for p in params:
                p.grad.mul_(scale)  # type: ignore[union-attr]
        optimizer.step()
        return {
            "total": float(res.total),
            "action": float(res.action),  # type: ignore[arg-type]
            "state": float(res.state) if res.state is not None else 0.0,
            "grad_norm": grad_norm,
            "clipped": clipped,
        }


# ---- inputs from array directories ---------------------------------------------------------------


def observations_from(arrays: dict[str, np.ndarray], dtype: torch.dtype, prefix: str = "") -> Observations:
    """The batch `{prefix}images`, `{prefix}text`, `{prefix}state`, `{prefix}embodiment` of an array directory."""
    return Observations(
        images=torch.from_numpy(np.ascontiguousarray(arrays[prefix + "images"])),
        text=torch.from_numpy(arrays[prefix + "text"].astype(np.int64)),
        state=torch.from_numpy(arrays[prefix + "state"].astype(np.float64)).to(dtype),
        embodiment=torch.from_numpy(arrays[prefix + "embodiment"].astype(np.int64)),
    )


def tensor_of(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """A float array as a tensor of `dtype` (float32 inputs widen exactly to float64)."""
    return torch.from_numpy(np.array(a, dtype=np.float64)).to(dtype)


def draws_to_targets(d: FlowDraws, cfg: ModelConfig, B: int, dtype: torch.dtype, actions: Optional[torch.Tensor]) -> FlowTargets:
    """Native draws (float64) rounded to the policy dtype, as native static_casts them."""
    f = FlowTargets(
        state_noise=tensor_of(d.state_noise, dtype).view(B, cfg.state_dim),
        state_time=tensor_of(d.state_time, dtype),
    )
    if actions is not None:
        f.actions = actions
        f.action_noise = tensor_of(d.action_noise, dtype).view(B, cfg.horizon, cfg.action_dim)
        f.action_time = tensor_of(d.action_time, dtype)
        f.drop_prompt = torch.from_numpy(d.drop_prompt.astype(bool))
    return f


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A detached, contiguous copy."""
    return t.detach().contiguous().numpy().copy()


# ---- parity ------------------------------------------------------------------------------------


def run_parity(directory: str) -> None:
    """Computes every quantity the parity test compares and writes them to DIR/out."""
    arrays, manifest = read_arrays(directory)
    dtype = TORCH_DTYPES[manifest["dtype"]]
    policy = TorchPolicy.load(os.path.join(directory, manifest["checkpoint"]), dtype)
    c = policy.cfg
    opts = manifest["options"]
    obs = observations_from(arrays, dtype)
    B = obs.batch
    HA = (B, c.horizon, c.action_dim)
    out: dict[str, np.ndarray] = {}
    values: dict[str, Any] = {}

    out["predict"] = to_numpy(
        policy.predict(obs, tensor_of(arrays["predict_xt"], dtype).view(HA), tensor_of(arrays["predict_t"], dtype), torch.from_numpy(arrays["predict_drop"].astype(bool)))
    )
    out["act"] = to_numpy(policy.act(obs, tensor_of(arrays["act_noise"], dtype).view(HA)))

    targets = FlowTargets(
        actions=tensor_of(arrays["actions"], dtype).view(HA),
        action_noise=tensor_of(arrays["action_noise"], dtype).view(HA),
        action_time=tensor_of(arrays["action_time"], dtype),
        state_noise=tensor_of(arrays["state_noise"], dtype).view(B, c.state_dim),
        state_time=tensor_of(arrays["state_time"], dtype),
        drop_prompt=torch.from_numpy(arrays["drop_prompt"].astype(bool)),
    )

    def grads_of(prefix: str, params: list[torch.Tensor]) -> None:
        names = {id(p): n for n, p in policy.params.items()}
        for p in params:
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            out[f"{prefix}.{names[id(p)]}"] = to_numpy(g)

    # The joint loss, every group trained: the full routed gradient.
    trained = policy.set_trainable({"embed", "prompt", "backbone", "action", "state"})
    joint = policy.losses(obs, targets, state_weight=opts["state_weight"])
    joint.total.backward()
    grads_of("joint", trained)
    values["joint"] = {"total": float(joint.total), "action": float(joint.action), "state": float(joint.state)}  # type: ignore[arg-type]
    out["joint.action_per_sample"] = to_numpy(joint.action_per_sample)  # type: ignore[arg-type]
    out["joint.state_per_sample"] = to_numpy(joint.state_per_sample)  # type: ignore[arg-type]

    # The state loss alone, the prompt trained (what promptStep differentiates).
    trained = policy.set_trainable({"prompt"})
    st = policy.losses(obs, targets, action_loss=False, state_loss=True)
    st.total.backward()
    grads_of("state_prompt", trained)
    values["state_prompt"] = {"state": float(st.state)}  # type: ignore[arg-type]

    # The action loss reaching the prompt (EVOLVE prompt-only updates open that edge).
    trained = policy.set_trainable({"prompt"})
    ap = policy.losses(obs, targets, action_loss=True, state_loss=False, action_to_prompt=True)
    ap.total.backward()
    grads_of("action_prompt", trained)
    values["action_prompt"] = {"action": float(ap.action)}  # type: ignore[arg-type]

    # Optimization steps with the native draws: promptStep, then (from the same start) trainStep.
    start = {n: p.detach().clone() for n, p in policy.params.items()}
    ps = opts["prompt_step"]
    policy.set_trainable({"prompt"})
    opt = policy.make_optimizer([policy.params["prompt"]], lr=ps["lr"], weight_decay=ps["weight_decay"])
    pobs = observations_from(arrays, dtype, "prompt_")
    values["prompt_steps"] = []
    for s in range(ps["steps"]):
        d = draw_flow(ps["seed"], s, pobs.batch, 0, c.state_dim, 0.0)
        values["prompt_steps"].append(policy.prompt_step(pobs, draws_to_targets(d, c, pobs.batch, dtype, None), opt))
    out["prompt_step.prompt"] = to_numpy(policy.params["prompt"])

    with torch.no_grad():
        for n, p in policy.params.items():
            p.copy_(start[n])
    ts = opts["train_step"]
    trained = policy.set_trainable({"embed", "prompt", "backbone", "action", "state"})
    opt = policy.make_optimizer(trained, lr=ts["lr"], weight_decay=ts["weight_decay"])
    actions = tensor_of(arrays["actions"], dtype).view(HA)
    values["train_steps"] = []
    for s in range(ts["steps"]):
        d = draw_flow(ts["seed"], s, B, c.horizon * c.action_dim, c.state_dim, ts["drop_probability"])
        values["train_steps"].append(policy.train_step(obs, draws_to_targets(d, c, B, dtype, actions), opt, trained, max_grad_norm=ts["max_grad_norm"]))
    for n, p in policy.params.items():
        out[f"train_step.{n}"] = to_numpy(p)

    # Philox draws, checked against the native generator by the test.
    out["philox.normal"] = philox_normal(manifest["philox"]["seed"], manifest["philox"]["stream"], manifest["philox"]["count"])
    out["philox.uniform"] = philox_uniform(manifest["philox"]["seed"], manifest["philox"]["stream"], manifest["philox"]["count"])

    write_arrays(os.path.join(directory, "out"), out, {"values": values, "torch": torch.__version__, "dtype": manifest["dtype"]})


# ---- benchmark server ------------------------------------------------------------------------------


def openblas_threads() -> Optional[int]:
    """OpenBLAS's own thread count (torch's BLAS here is Debian's libblas.so.3 -> OpenBLAS pthreads)."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        return int(lib.openblas_get_num_threads())
    except (OSError, AttributeError):
        return None


def set_openblas_threads(n: int) -> None:
    """openblas_set_num_threads(n) on the OpenBLAS that torch's BLAS calls reach (no-op without it)."""
    try:
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(n)
    except (OSError, AttributeError):
        pass


class BenchState:
    """What the benchmark server holds between commands."""

    def __init__(self, directory: str, threads: int) -> None:
        torch.set_num_threads(threads)
        set_openblas_threads(threads)  # native sets OpenBLAS to its own thread count too
        torch.manual_seed(0)
        self.arrays, self.manifest = read_arrays(directory)
        self.policy = TorchPolicy.load(os.path.join(directory, self.manifest["checkpoint"]), torch.float32)
        self.generator = torch.Generator().manual_seed(1234)
        self.prompt_optimizer: Optional[torch.optim.AdamW] = None
        self.train_optimizer: Optional[torch.optim.AdamW] = None
        self.trained: list[torch.Tensor] = []

    def info(self) -> dict[str, Any]:
        return {
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
            "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
            "openblas_threads": openblas_threads(),
            "parallel_info": torch.__config__.parallel_info(),
            "config_show": torch.__config__.show(),
        }

    def torch_draws(self, B: int, with_actions: bool) -> FlowTargets:
        """The natural PyTorch draws (seeded torch generator): noise, Beta(1.5, 1) times by inversion."""
        c, g = self.policy.cfg, self.generator
        f = FlowTargets(
            state_noise=torch.randn(B, c.state_dim, generator=g),
            state_time=torch.rand(B, generator=g, dtype=torch.float64).pow(1 / 1.5).mul(0.999).add(0.001).float(),
        )
        if with_actions:
            f.action_noise = torch.randn(B, c.horizon, c.action_dim, generator=g)
            f.action_time = torch.rand(B, generator=g, dtype=torch.float64).pow(1 / 1.5).mul(0.999).add(0.001).float()
            f.drop_prompt = torch.zeros(B, dtype=torch.bool)
        return f

    def run(self, op: str) -> Callable[[], None]:
        """A closure doing one call of `op` (act, prompt_step or train_step) on the prepared batch."""
        p, c, a = self.policy, self.policy.cfg, self.arrays
        if op == "act":
            obs = observations_from(a, torch.float32, "act_")
            noise_gen = torch.Generator().manual_seed(5)
            shape = (obs.batch, c.horizon, c.action_dim)
            p.set_trainable(set())
            return lambda: p.act(obs, torch.randn(shape, generator=noise_gen))
        if op == "prompt_step":
            obs = observations_from(a, torch.float32, "prompt_")
            params = p.set_trainable({"prompt"})
            if self.prompt_optimizer is None:
                self.prompt_optimizer = p.make_optimizer(params, lr=1e-3, weight_decay=0.0)
            opt = self.prompt_optimizer
            return lambda: p.prompt_step(obs, self.torch_draws(obs.batch, False), opt) and None
        if op == "train_step":
            obs = observations_from(a, torch.float32, "train_")
            actions = tensor_of(a["train_actions"], torch.float32).view(obs.batch, c.horizon, c.action_dim)
            self.trained = p.set_trainable({"embed", "prompt", "backbone", "action", "state"})
            if self.train_optimizer is None:
                self.train_optimizer = p.make_optimizer(self.trained, lr=3e-4, weight_decay=0.01)
            opt, trained = self.train_optimizer, self.trained

            def train() -> None:
                f = self.torch_draws(obs.batch, True)
                f.actions = actions
                p.train_step(obs, f, opt, trained, max_grad_norm=1.0)

            return train
        raise ValueError(f"unknown op '{op}'")


def run_bench_server() -> None:
    """JSON lines on stdin: {"cmd": "setup", "dir", "threads"}, {"cmd": "info"},
    {"cmd": "time", "op", "warmup", "calls"} -> {"ms": [...], "cpu_ms_per_call"}, {"cmd": "quit"}.
    One reply line each."""
    state: Optional[BenchState] = None
    for line in sys.stdin:
        msg = json.loads(line)
        try:
            if msg["cmd"] == "setup":
                state = BenchState(msg["dir"], int(msg["threads"]))
                reply: dict[str, Any] = {"ok": True}
            elif msg["cmd"] == "info":
                assert state is not None
                reply = state.info()
            elif msg["cmd"] == "time":
                assert state is not None
                fn = state.run(msg["op"])
                for _ in range(int(msg["warmup"])):
                    fn()
                ms = []
                cpu0 = time.process_time_ns()  # CPU time of every thread of this process
                for _ in range(int(msg["calls"])):
                    t0 = time.perf_counter_ns()
                    fn()
                    ms.append((time.perf_counter_ns() - t0) / 1e6)
                reply = {"ms": ms, "cpu_ms_per_call": (time.process_time_ns() - cpu0) / 1e6 / len(ms)}
            elif msg["cmd"] == "quit":
                return
            else:
                raise ValueError(f"unknown command {msg['cmd']}")
        except Exception as e:  # the client reports it and stops
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def main(argv: list[str]) -> int:
    """Dispatches the `parity` and `bench` commands; prints the usage otherwise."""
    if len(argv) >= 2 and argv[0] == "parity":
        for directory in argv[1:]:
            run_parity(directory)
        return 0
    if len(argv) >= 1 and argv[0] == "bench":
        run_bench_server()
        return 0
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
