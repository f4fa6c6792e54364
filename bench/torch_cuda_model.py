#!/usr/bin/python3
"""PyTorch's policy (bench/torch_ref.py's TorchPolicy) on the GPU, on the shapes that
bench/cuda/bench_cuda_model.cc times for the native DevicePolicy: the small, base and pi0 presets
(native/model/config.cc preset_named, vocabulary of 64 words) with seeded random weights.

    python3 bench/torch_cuda_model.py [--preset small,base,pi0] [--ops act,prompt_step,train_step]
        [--device cuda] [--precision fp32|tf32|bf16[,..]] [--reps N] [--warmup N] [--no-compile] [--no-eager]
        [--compile-scope op|layers[,..]] [--compile-mode MODE] [--batch-scale X] [--budget-s S]
        [--max-row-s S] [--seed N] [--json FILE]

Measured, per preset: ``act`` at batch 1 and 256 (sample_steps = 10 Euler steps, the prefix
encoded once into a KV cache and only the action rows re-run per step, as torch_ref does it),
``prompt_step`` at batch 128 (state loss, gradient to the prompt only, AdamW lr 1e-3), and
``train_step`` at batch 128 (joint loss, AdamW lr 3e-4 wd 0.01 over every parameter, global-norm
clipping at 1.0). A batch that runs out of memory is recorded (``oom: true``) and retried smaller
(act 256 -> 64, prompt_step 128 -> 32, train_step 128 -> 32 -> 8).

Modes: ``eager``, and unless --no-compile ``compile-op`` and/or ``compile-layers``:
  compile-op      act: the whole act (prefix pass, KV cache, 10 Euler steps) through torch.compile;
                  prompt_step / train_step: TorchPolicy.losses (forward and, through AOTAutograd,
                  backward) compiled; gradient norm, clipping and AdamW stay eager (torch_ref's code).
  compile-layers  TorchPolicy.run_layers (the transformer stack) compiled, everything else eager.
A compile that fails is recorded as the row's ``error`` (the run goes on). torch.compile exists in
torch 2.x only: on 1.x the compiled rows say so.

Timing: every call bracketed by CUDA events (torch.cuda.synchronize before it); the first call
(compilation included) is reported as ``first_call_ms``, then up to ``warmup - 1`` more calls,
then the median / min / max of up to ``reps`` calls (slow rows, such as pi0's act at batch 256,
get fewer: --max-row-s; ``warmup_calls`` and ``samples`` say how many ran). Inputs are already on
the device (the native benchmark's figures include uploading the inputs and downloading the
actions). torch_ref's prompt_step and train_step read the loss and gradient norm back to the host
each step (float()), as its CPU benchmark does. Weights are re-drawn (same seed) before every
row, so rows do not depend on order. Each row is printed and the JSON rewritten as soon as it is
measured, and rows that would start after --budget-s (default 480 s, under gpu-check.sh's 540 s
timeout) are recorded as skipped: run presets / ops separately to get them all (pi0's compiles
take minutes).

FLOPs (``flops``, ``tflops`` = flops / median time) count the matmuls as executed (dense, padding
included), per sample, times the batch:
  a segment of T rows, Tk keys, expert width w, MLP F, per layer:
      2 T w (q_dim + 2 kv_dim)              q, k, v projections
    + 4 T Tk heads head_dim                 scores and probabilities x values
    + 2 T (q_dim w + 2 F w + F w)           o, GeGLU up, down (not in the last layer of rows no head reads)
  act          = patch embedding 2 P (3 p^2) wb + the prefix (T = Tk = obs_len + prompt_len)
                 + sample_steps x (action rows T = 1 + H, Tk = prefix + 1 + H, and the action head:
                 2 H (A wa + 3 wa^2 + wa A))
  losses fwd   = patch embedding + obs (T = Tk = obs_len) + prompt (T = K, Tk = obs_len + K)
                 + action (T = 1 + H, Tk = obs_len + K + 1 + H) + state (T = 1, Tk = obs_len + K + 1) + heads
  train_step   = 3 x losses fwd (backward = 2 x forward, every weight trained)
  prompt_step  = losses fwd without the action rows + 1 x (prompt and state rows): the backward
                 computes input gradients only (no weight is trained), and none through the obs rows.
Embeddings lookups, norms, RoPE, softmax and AdamW are not counted.

--device cpu with --preset small --batch-scale 0.02 --no-compile is a smoke test of this script.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import sys
import time
import warnings
from typing import Any, Callable, Optional

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref as tr  # noqa: E402

# torch 2.x warns on torch_ref's float(loss) of a tensor that requires grad (what it reports per step).
warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True to a scalar")

VOCAB = 64
# native/model/config.h defaults (the small preset) and preset_named's overrides.
DEFAULTS: dict[str, Any] = dict(
    image_size=64, patch_size=8, max_text_len=16, vocab_size=VOCAB, depth=4, num_heads=4, num_kv_heads=2, head_dim=32,
    backbone=dict(width=128, mlp_dim=512), action=dict(width=128, mlp_dim=512), state=dict(width=128, mlp_dim=512),
    num_prompt_tokens=8, num_embodiments=4, use_prompt=True, use_state_expert=True, horizon=8, action_dim=7, state_dim=4,
    time_min_period=4e-3, time_max_period=4.0, sample_steps=10, rope_theta=10000.0, rms_eps=1e-6,
)  # fmt: skip
PRESETS: dict[str, dict[str, Any]] = {
    "small": {},
    "base": dict(depth=8, num_heads=8, num_kv_heads=2, head_dim=64,
                 backbone=dict(width=512, mlp_dim=2048), action=dict(width=512, mlp_dim=2048), state=dict(width=512, mlp_dim=2048)),
    "pi0": dict(image_size=224, patch_size=14, max_text_len=48, depth=18, num_heads=8, num_kv_heads=1, head_dim=256,
                backbone=dict(width=2048, mlp_dim=16384), action=dict(width=1024, mlp_dim=4096), state=dict(width=1024, mlp_dim=4096),
                horizon=50),
}  # fmt: skip
OPS = ("act", "prompt_step", "train_step")
BATCHES = {"act": (1, 256), "prompt_step": (128,), "train_step": (128,)}
FALLBACK = {"act": {256: (64,)}, "prompt_step": {128: (32,)}, "train_step": {128: (32, 8)}}  # batches tried after an OOM
PRECISIONS = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16}
ALL_GROUPS = {"embed", "prompt", "backbone", "action", "state"}


def preset_config(name: str) -> tr.ModelConfig:
    return tr.ModelConfig.from_json({**DEFAULTS, **PRESETS[name], "preset": name})


# ---- model and inputs ----------------------------------------------------------------------------


def init_weights(policy: tr.TorchPolicy, seed: int) -> None:
    """Seeded random weights in place: N(0, 0.02) matrices and embeddings, norms 1, biases 0."""
    g = torch.Generator(device=policy.device).manual_seed(seed)
    with torch.no_grad():
        for name, p in policy.params.items():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
            elif name.endswith(".bias"):
                p.zero_()
            else:
                p.normal_(0.0, 0.02, generator=g)


def build_policy(c: tr.ModelConfig, dtype: torch.dtype, device: torch.device, seed: int) -> tr.TorchPolicy:
    """TorchPolicy on `device` (zero-stride placeholder arrays, so no random numbers are drawn on
    the host), then the seeded weights drawn on the device."""
    placeholders = {name: np.broadcast_to(np.float32(0), shape) for name, shape, _ in tr.parameter_table(c)}
    vocab = ["<pad>", "<unk>"] + [f"w{i}" for i in range(2, c.vocab_size)]
    policy = tr.TorchPolicy(c, placeholders, dtype, vocab, device=device)  # type: ignore[arg-type]
    init_weights(policy, seed)
    return policy


def beta_times(B: int, g: torch.Generator, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """t = Beta(1.5, 1) * 0.999 + 0.001 by inversion (as torch_ref's bench server draws them)."""
    return torch.rand(B, generator=g, device=device, dtype=torch.float64).pow(1 / 1.5).mul(0.999).add(0.001).to(dtype)


def make_inputs(c: tr.ModelConfig, B: int, device: torch.device, dtype: torch.dtype, seed: int) -> tuple[tr.Observations, tr.FlowTargets, torch.Tensor]:
    """A random batch like bench_cuda_model.cc's: uint8 images, max_text_len - 2 words then padding,
    state ~ N(0, 0.2^2), embodiment b % E; flow targets and act noise."""
    g = torch.Generator(device=device).manual_seed(seed)
    L = c.max_text_len
    text = torch.randint(1, c.vocab_size, (B, L), generator=g, device=device, dtype=torch.int64)
    text[:, max(1, L - 2) :] = 0
    obs = tr.Observations(
        images=torch.randint(0, 256, (B, c.image_size, c.image_size, 3), generator=g, device=device, dtype=torch.uint8),
        text=text,
        state=(torch.randn(B, c.state_dim, generator=g, device=device) * 0.2).to(dtype),
        embodiment=torch.arange(B, device=device, dtype=torch.int64) % c.num_embodiments,
    )
    HA = (B, c.horizon, c.action_dim)
    targets = tr.FlowTargets(
        actions=(torch.randn(HA, generator=g, device=device) * 0.5).to(dtype),
        action_noise=torch.randn(HA, generator=g, device=device).to(dtype),
        action_time=beta_times(B, g, device, dtype),
        state_noise=torch.randn(B, c.state_dim, generator=g, device=device).to(dtype),
        state_time=beta_times(B, g, device, dtype),
        drop_prompt=torch.zeros(B, dtype=torch.bool, device=device),
    )
    noise = torch.randn(HA, generator=g, device=device).to(dtype)
    return obs, targets, noise


# ---- FLOPs ---------------------------------------------------------------------------------------


def stack_flops(c: tr.ModelConfig, T: int, Tk: int, e: tr.ExpertDims, tail: bool) -> float:
    """Matmul FLOPs of one segment through the layer stack (per sample; module docstring)."""
    w, F = e.width, e.mlp_dim
    per_layer = 2 * T * w * (c.q_dim + 2 * c.kv_dim) + 4 * T * Tk * c.num_heads * c.head_dim
    rest = 2 * T * (c.q_dim * w + 2 * F * w + F * w)
    return float(c.depth * per_layer + (c.depth if tail else c.depth - 1) * rest)


def head_flops(rows: int, x_dim: int, w: int) -> float:
    return float(2 * rows * (x_dim * w + 3 * w * w + w * x_dim))


def op_flops(c: tr.ModelConfig, op: str, B: int) -> float:
    """Estimated matmul FLOPs of one call (module docstring)."""
    K, H, ob = c.prompt_len, c.horizon, c.obs_len
    embed = 2.0 * c.num_patches * c.patch_dim * c.backbone.width
    action_head = head_flops(H, c.action_dim, c.action.width)
    if op == "act":
        Tp = ob + K
        per = embed + stack_flops(c, Tp, Tp, c.backbone, False)
        per += c.sample_steps * (stack_flops(c, 1 + H, Tp + 1 + H, c.action, True) + action_head)
        return B * per
    obs_rows = embed + stack_flops(c, ob, ob, c.backbone, False)
    prompt_rows = stack_flops(c, K, ob + K, c.backbone, False) if c.use_prompt else 0.0
    state_rows = (stack_flops(c, 1, ob + K + 1, c.state, True) + head_flops(1, c.state_dim, c.state.width)) if c.use_state_expert else 0.0
    action_rows = stack_flops(c, 1 + H, ob + K + 1 + H, c.action, True) + action_head
    if op == "train_step":
        return B * 3.0 * (obs_rows + prompt_rows + action_rows + state_rows)
    if op == "prompt_step":
        return B * (obs_rows + 2.0 * (prompt_rows + state_rows))
    raise ValueError(op)


# ---- the ops -------------------------------------------------------------------------------------


def uses_cudagraphs(compile_kw: dict[str, Any]) -> bool:
    mode = compile_kw.get("mode") or ""
    return mode == "reduce-overhead" or mode == "max-autotune"


class Prepared:
    """One (op, batch, mode) ready to call; close() undoes the patches and frees the memory (also
    after a setup() that failed half way)."""

    def __init__(self, policy: tr.TorchPolicy) -> None:
        self.policy = policy
        self.patched: list[str] = []
        self.optimizer: Optional[torch.optim.AdamW] = None
        self.call: Callable[[], Any] = lambda: None

    def setup(self, op: str, B: int, mode: str, compile_kw: dict[str, Any], seed: int) -> None:
        policy = self.policy
        p, c = policy, policy.cfg
        obs, targets, noise = make_inputs(c, B, p.device, p.dtype, seed)
        compiled_act: Optional[Callable[..., torch.Tensor]] = None
        if mode != "eager":
            if not hasattr(torch, "compile"):
                raise RuntimeError(f"torch.compile is not available in torch {torch.__version__}")
            if hasattr(torch, "_dynamo"):
                torch._dynamo.reset()  # fresh, static-shape compiles for every row
                if uses_cudagraphs(compile_kw) and hasattr(torch._dynamo, "mark_static_address"):
                    for t in p.params.values():  # plain tensors, not nn.Parameters: CUDA graphs would copy them in
                        torch._dynamo.mark_static_address(t)
            if mode == "compile-layers":
                self._patch("run_layers", torch.compile(policy.run_layers, **compile_kw))
            elif op == "act":

                def act_core(images, text, state, embodiment, x):  # type: ignore[no-untyped-def]
                    return tr.TorchPolicy.act(p, tr.Observations(images, text, state, embodiment), x)

                compiled_act = torch.compile(act_core, **compile_kw)
            else:
                self._patch("losses", compiled_losses(policy, compile_kw))
        if op == "act":
            p.set_trainable(set())
            if compiled_act is not None:
                ca = compiled_act
                self.call = lambda: ca(obs.images, obs.text, obs.state, obs.embodiment, noise)
            else:
                self.call = lambda: p.act(obs, noise)
        elif op == "prompt_step":
            opt = self.optimizer = p.make_optimizer(p.set_trainable({"prompt"}), lr=1e-3, weight_decay=0.0)
            pt = tr.FlowTargets(state_noise=targets.state_noise, state_time=targets.state_time)
            self.call = lambda: p.prompt_step(obs, pt, opt)
        elif op == "train_step":
            trained = p.set_trainable(ALL_GROUPS)
            opt = self.optimizer = p.make_optimizer(trained, lr=3e-4, weight_decay=0.01)
            self.call = lambda: p.train_step(obs, targets, opt, trained, max_grad_norm=1.0)
        else:
            raise ValueError(f"unknown op '{op}'")

    def _patch(self, name: str, fn: Callable[..., Any]) -> None:
        setattr(self.policy, name, fn)  # an instance attribute shadows TorchPolicy's method
        self.patched.append(name)

    def close(self) -> None:
        for name in self.patched:
            delattr(self.policy, name)
        self.patched = []
        self.call = lambda: None
        self.optimizer = None
        self.policy.set_trainable(set())  # drops the gradients


def compiled_losses(policy: tr.TorchPolicy, compile_kw: dict[str, Any]) -> Callable[..., tr.Losses]:
    """A stand-in for policy.losses whose body is torch.compile'd: tensors in, a tuple out."""

    def core(  # type: ignore[no-untyped-def]
        images, text, state, embodiment, actions, action_noise, action_time, state_noise, state_time, drop, action_loss, state_loss, state_weight
    ):
        obs = tr.Observations(images, text, state, embodiment)
        f = tr.FlowTargets(actions, action_noise, action_time, state_noise, state_time, drop)
        r = tr.TorchPolicy.losses(policy, obs, f, action_loss=action_loss, state_loss=state_loss, state_weight=state_weight)
        return r.total, r.action, r.state, r.action_per_sample, r.state_per_sample

    compiled = torch.compile(core, **compile_kw)

    def losses(obs, f, action_loss=True, state_loss=True, state_weight=1.0, action_to_prompt=False, action_weights=None):  # type: ignore[no-untyped-def]
        if action_to_prompt or action_weights is not None:
            raise ValueError("compiled losses: action_to_prompt / action_weights are not wired here")
        out = compiled(obs.images, obs.text, obs.state, obs.embodiment, f.actions, f.action_noise, f.action_time, f.state_noise, f.state_time,
                       f.drop_prompt, action_loss, state_loss, state_weight)  # fmt: skip
        return tr.Losses(*out)

    return losses


# ---- timing --------------------------------------------------------------------------------------


def exception_chain(e: BaseException) -> list[BaseException]:
    """e and its causes / contexts (torch.compile wraps what a backend raised)."""
    out: list[BaseException] = []
    cur: Optional[BaseException] = e
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def is_oom(e: BaseException) -> bool:
    oom_type = getattr(torch.cuda, "OutOfMemoryError", None)
    return any((oom_type is not None and isinstance(x, oom_type)) or "out of memory" in str(x).lower() for x in exception_chain(e))


def timed_call(fn: Callable[[], Any], device: torch.device) -> tuple[float, float]:
    """(ms by CUDA events or, on the CPU, by the clock; wall ms) of one call."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t0 = time.perf_counter()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        wall = (time.perf_counter() - t0) * 1e3
        return float(start.elapsed_time(stop)), wall
    t0 = time.perf_counter()
    fn()
    wall = (time.perf_counter() - t0) * 1e3
    return wall, wall


def median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def dynamo_counters() -> Optional[Any]:
    """torch._dynamo's counters (graph breaks, graphs compiled), where this torch has them."""
    try:
        from torch._dynamo.utils import counters  # type: ignore[import-not-found]

        return counters
    except Exception:  # noqa: BLE001: torch 1.x, or moved
        return None


def free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


class Runner:
    def __init__(self, args: argparse.Namespace, device: torch.device) -> None:
        self.args = args
        self.device = device
        self.t_start = time.perf_counter()
        self.doc: dict[str, Any] = {
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine() or "cpu"),
            "device_type": device.type,
            "torch": torch.__version__,
            "cuda": getattr(torch.version, "cuda", None),
            "python": sys.version.split()[0],
            "argv": sys.argv[1:],
            "reps": args.reps,
            "warmup": args.warmup,
            "max_row_s": args.max_row_s,
            "compile_mode": args.compile_mode,
            "configs": {},
            "results": [],
        }

    def elapsed(self) -> float:
        return time.perf_counter() - self.t_start

    def save(self) -> None:
        if not self.args.json:
            return
        tmp = self.args.json + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.doc, f, indent=1)
        os.replace(tmp, self.args.json)

    def add(self, row: dict[str, Any]) -> None:
        self.doc["results"].append(row)
        head = f"{row['preset']:6s} {row['precision']:5s} {row['op']:12s} b{row['batch']:<4d} {row['mode']:15s}"
        if "median_ms" in row:
            extra = f"  {row['tflops']:.3g} TFLOP/s" if row.get("tflops") is not None else ""
            mem = f"  peak {row['peak_mem_gib']:.1f} GiB" if row.get("peak_mem_gib") is not None else ""
            graphs = f"  graphs {row['unique_graphs']}, breaks {row['graph_breaks']}" if "unique_graphs" in row else ""
            print(f"{head} {row['median_ms']:11.3f} ms (min {row['min_ms']:.3f}, first call {row['first_call_ms']:.0f} ms){extra}{mem}{graphs}", flush=True)
        else:
            what = "OOM" if row.get("oom") else "SKIPPED" if row.get("skipped") else "ERROR"
            print(f"{head} {what}: {str(row.get('error') or row.get('skipped'))[:400]}", flush=True)
        self.save()

    def measure(self, policy: tr.TorchPolicy, preset: str, precision: str, op: str, B: int, mode: str) -> dict[str, Any]:
        """One row; returns it (with oom set when it ran out of memory)."""
        a = self.args
        row: dict[str, Any] = {"preset": preset, "precision": precision, "op": op, "batch": B, "mode": mode}
        if a.budget_s > 0 and self.elapsed() > a.budget_s:
            row["skipped"] = f"time budget ({a.budget_s:.0f} s) spent"
            self.add(row)
            return row
        # dynamic=False: a static-shape graph per shape (run_layers sees the prefix and the action rows).
        compile_kw: dict[str, Any] = {"dynamic": False, **({"mode": a.compile_mode} if a.compile_mode else {})}
        init_weights(policy, a.seed)
        prepared: Optional[Prepared] = None
        try:
            if self.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(self.device)
            counters = dynamo_counters()
            if counters is not None and mode != "eager":
                counters.clear()
            prepared = Prepared(policy)
            prepared.setup(op, B, mode, compile_kw, a.seed + B)
            first, _ = timed_call(prepared.call, self.device)
            last, warm_calls, warm_ms = first, 1, 0.0
            while warm_calls < a.warmup and not (warm_calls >= 2 and warm_ms > a.max_row_s * 500):
                last, _ = timed_call(prepared.call, self.device)
                warm_calls += 1
                warm_ms += last
            reps = min(a.reps, max(3, int(a.max_row_s * 1e3 / max(last, 1e-3)))) if a.max_row_s > 0 else a.reps
            ms, wall = [], []
            for _ in range(reps):
                m, w = timed_call(prepared.call, self.device)
                ms.append(m)
                wall.append(w)
            flops = op_flops(policy.cfg, op, B)
            med = median(ms)
            row.update(
                median_ms=med, min_ms=min(ms), max_ms=max(ms), wall_median_ms=median(wall), first_call_ms=first, warmup_calls=warm_calls, samples=len(ms),
                flops=flops, tflops=flops / (med * 1e-3) / 1e12 if med > 0 else None,
                peak_mem_gib=torch.cuda.max_memory_allocated(self.device) / 2**30 if self.device.type == "cuda" else None,
            )  # fmt: skip
            if counters is not None and mode != "eager":  # how much of the op torch.compile captured
                row["graph_breaks"] = int(sum(counters["graph_break"].values()))
                row["unique_graphs"] = int(counters["stats"]["unique_graphs"])
        except Exception as e:  # noqa: BLE001: recorded, the run goes on
            row["error"] = f"{type(e).__name__}: {str(e)[:4000]}"
            row["oom"] = is_oom(e)
            for x in exception_chain(e):  # the frames hold the batch's tensors: let them go
                x.__traceback__ = None
        finally:
            if prepared is not None:
                prepared.close()
            prepared = None
            if mode != "eager" and hasattr(torch, "_dynamo"):
                torch._dynamo.reset()
            free_memory(self.device)
        self.add(row)
        return row

    def run_preset(self, preset: str) -> None:
        a = self.args
        c = preset_config(preset)
        n_params = sum(math.prod(s) for _, s, _ in tr.parameter_table(c))
        self.doc["configs"][preset] = {**DEFAULTS, **PRESETS[preset], "preset": preset, "params": n_params, "obs_len": c.obs_len, "num_patches": c.num_patches}
        modes = ([] if a.no_eager else ["eager"]) + ([] if a.no_compile else [f"compile-{s}" for s in a.compile_scope])
        for precision in a.precision:
            set_precision(precision, self.device)
            t0 = time.perf_counter()
            try:
                policy = build_policy(c, PRECISIONS[precision], self.device, a.seed)
            except Exception as e:  # noqa: BLE001
                row = {"preset": preset, "precision": precision, "op": "build", "batch": 0, "mode": "eager"}
                self.add({**row, "error": f"{type(e).__name__}: {e}", "oom": is_oom(e)})
                free_memory(self.device)
                continue
            print(f"{preset}: {n_params / 1e6:.1f}M parameters ({precision}), built in {time.perf_counter() - t0:.1f} s", flush=True)
            for mode in modes:
                for op in a.ops:
                    for B0 in BATCHES[op]:
                        B = max(1, round(B0 * a.batch_scale))
                        row = self.measure(policy, preset, precision, op, B, mode)
                        for fb in FALLBACK[op].get(B0, ()):
                            if not row.get("oom"):
                                break
                            row = self.measure(policy, preset, precision, op, max(1, round(fb * a.batch_scale)), mode)
            del policy
            free_memory(self.device)


def set_precision(precision: str, device: torch.device) -> None:
    """fp32: full fp32 matmuls; tf32: fp32 tensors, TF32 tensor-core matmuls; bf16: bf16 model."""
    tf32 = precision == "tf32"
    if hasattr(torch, "set_float32_matmul_precision"):
        torch.set_float32_matmul_precision("high" if tf32 else "highest")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def csv(choices: Optional[tuple[str, ...]]) -> Callable[[str], list[str]]:
    def parse(s: str) -> list[str]:
        out = [x.strip() for x in s.split(",") if x.strip()]
        bad = [x for x in out if choices is not None and x not in choices]
        if bad or not out:
            raise argparse.ArgumentTypeError(f"{s!r}: expected a comma-separated list of {', '.join(choices or ())}")
        return out

    return parse


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--preset", type=csv(tuple(PRESETS)), default=list(PRESETS), help="small,base,pi0 (default all)")
    ap.add_argument("--ops", type=csv(OPS), default=list(OPS), help="act,prompt_step,train_step (default all)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--precision", type=csv(tuple(PRECISIONS)), default=["fp32"], help="fp32, tf32, bf16 (comma list; default fp32)")
    ap.add_argument("--reps", type=int, default=10, help="timed calls per row at most (median reported)")
    ap.add_argument("--warmup", type=int, default=3, help="calls before timing at most, the first (compiling) one included")
    ap.add_argument("--max-row-s", type=float, default=30.0,
                    help="slow rows: fewer warm-up calls (at least 2) and timed calls (at least 3), ~this many seconds each (0: off)")
    ap.add_argument("--no-compile", action="store_true", help="eager only")
    ap.add_argument("--no-eager", action="store_true", help="compiled modes only (split a long run over several calls)")
    ap.add_argument("--compile-scope", type=csv(("op", "layers")), default=["op"], help="op and/or layers (module docstring)")
    ap.add_argument("--compile-mode", default=None, help="torch.compile mode (default: torch's default; e.g. reduce-overhead, max-autotune)")
    ap.add_argument("--batch-scale", type=float, default=1.0, help="multiply every batch (at least 1): smoke tests")
    ap.add_argument("--budget-s", type=float, default=480.0, help="rows starting after this many seconds are skipped (0: no limit)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the results here (rewritten after every row)")
    args = ap.parse_args(argv)
    args.reps = max(1, args.reps)
    args.warmup = max(1, args.warmup)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("torch_cuda_model: no CUDA device visible to torch (use --device cpu for a smoke test)", file=sys.stderr)
        return 1
    if not args.no_compile and not hasattr(torch, "compile"):
        print(f"torch_cuda_model: torch {torch.__version__} has no torch.compile: compiled rows will record that", file=sys.stderr)
    torch.manual_seed(args.seed)
    runner = Runner(args, device)
    print(f"device: {runner.doc['device']}, torch {torch.__version__}, cuda {runner.doc['cuda']}", flush=True)
    for preset in args.preset:
        runner.run_preset(preset)
    runner.doc["total_s"] = runner.elapsed()
    runner.save()
    ok = any("median_ms" in r for r in runner.doc["results"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
