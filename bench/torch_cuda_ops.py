"""PyTorch on the GPU, on the shapes of bench/cuda/bench_cuda_ops.cc: the reference that
vla_bench_cuda's figures are compared with (same machine, same run of scripts/gpu-check.sh).

    python3 bench/torch_cuda_ops.py [--json FILE] [--preset small|base|pi0] [--reps N] [--no-compile]

Each op is timed eagerly and, unless --no-compile, through torch.compile (mode "max-autotune-no-cudagraphs"
is not used: the default mode, as a user would). Medians of 7 samples of `reps` launches, CUDA
events, after warm-up. Attention is timed two ways: "math" (explicit softmax, keeps the
probabilities as vla-ttt's kernel does) and "sdpa" (scaled_dot_product_attention, whatever
backend torch picks, which keeps none).
"""
import argparse
import json
import math

import torch
import torch.nn.functional as F

PRESETS = {
    # name: width, mlp, heads, kv_heads, head_dim, tokens, batch, expert_width, expert_mlp
    "small": (128, 512, 4, 2, 32, 90, 64, 128, 512),
    "base": (512, 2048, 8, 2, 64, 90, 64, 512, 2048),
    "pi0": (2048, 16384, 8, 1, 256, 816, 8, 1024, 4096),
}


def median_ms(fn, reps):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(7):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        stop.record()
        stop.synchronize()
        samples.append(start.elapsed_time(stop) / reps)
    samples.sort()
    return samples[len(samples) // 2]


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w


def geglu(x):
    gate, up = x.chunk(2, dim=-1)
    return F.gelu(gate, approximate="tanh") * up


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def attention_math(q, k, v, scale):
    # q [B, Tq, Hq, D], k/v [B, Tk, Hkv, D] -> out [B, Tq, Hq, D] and probs [B, Hq, Tq, Tk]
    groups = q.shape[2] // k.shape[2]
    qh, kh, vh = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    kh, vh = kh.repeat_interleave(groups, dim=1), vh.repeat_interleave(groups, dim=1)
    probs = torch.softmax((qh @ kh.transpose(-1, -2)) * scale, dim=-1)
    return (probs @ vh).transpose(1, 2), probs


def attention_sdpa(q, k, v, scale):
    groups = q.shape[2] // k.shape[2]
    qh, kh, vh = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    kh, vh = kh.repeat_interleave(groups, dim=1), vh.repeat_interleave(groups, dim=1)
    return F.scaled_dot_product_attention(qh, kh, vh, scale=scale).transpose(1, 2)


def bench_preset(name, reps, compile_too, results):
    W, Fm, H, Hkv, D, T, B, EW, EF = PRESETS[name]
    M = B * T
    qkv = (H + 2 * Hkv) * D
    dev = "cuda"
    g = torch.Generator(device=dev).manual_seed(0)

    def rnd(*shape, grad=False):
        t = (torch.rand(*shape, device=dev, generator=g) - 0.5) * 0.2
        return t.requires_grad_(grad)

    def add(op, shape, ms, amount, unit, variant):
        rate = amount / (ms * 1e-3) / 1e9
        results.append({"preset": name, "op": op, "shape": shape, "ms": ms, "rate": rate, "unit": unit, "variant": variant})
        print(f"{name:6s} {op:28s} {variant:8s} {shape:34s} {ms:9.4f} ms {rate:10.1f} {unit}", flush=True)

    variants = [("eager", lambda f: f)] + ([("compile", torch.compile)] if compile_too else [])
    sz = lambda *d: "x".join(str(x) for x in d)

    for what, m, k, n in [("qkv", M, W, qkv), ("mlp_up", M, W, 2 * Fm), ("mlp_down", M, Fm, W),
                          ("act_qkv", 9, EW, qkv), ("act_mlp_up", 9, EW, 2 * EF)]:
        a, b = rnd(m, k), rnd(n, k)
        for mode in ("fp32", "tf32", "bf16"):
            torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
            if mode == "bf16":
                ab, bb = a.bfloat16(), b.bfloat16()
                fn = lambda: ab @ bb.t()
            else:
                fn = lambda: a @ b.t()
            add(f"gemm_{what}_{mode}", sz(m, k, n), median_ms(fn, reps), 2.0 * m * n * k, "GFLOP/s", "eager")
        torch.backends.cuda.matmul.allow_tf32 = False

    x, w = rnd(M, W, grad=True), rnd(W, grad=True)
    xg = rnd(M, 2 * Fm, grad=True)
    pos = torch.arange(T, device=dev, dtype=torch.float64)
    inv = 10000.0 ** (-torch.arange(0, D // 2, device=dev, dtype=torch.float64) * 2 / D)
    ang = pos[:, None] * inv[None, :]
    cos, sin = ang.cos().float()[None, :, None, :], ang.sin().float()[None, :, None, :]
    xr = rnd(B, T, H, D)
    for variant, wrap in variants:
        f_rms, f_geglu, f_rope = wrap(rmsnorm), wrap(geglu), wrap(rope)
        y = f_rms(x, w)
        dy = torch.ones_like(y)
        add("rmsnorm_forward", sz(M, W), median_ms(lambda: f_rms(x, w), reps), 2.0 * M * W * 4, "GB/s", variant)
        add("rmsnorm_backward", sz(M, W),
            median_ms(lambda: torch.autograd.grad(f_rms(x, w), (x, w), dy), reps) - median_ms(lambda: f_rms(x, w), reps),
            4.0 * M * W * 4, "GB/s", variant)
        add("geglu_forward", sz(M, 2 * Fm), median_ms(lambda: f_geglu(xg), reps), 3.0 * M * Fm * 4, "GB/s", variant)
        add("rope_forward", sz(B, T, H, D), median_ms(lambda: f_rope(xr, cos, sin), reps), 2.0 * B * T * H * D * 4, "GB/s", variant)

    for act in (False, True):
        b_, tq, tk = (1, 9, T + 9) if act else (B, T, T)
        q, k, v = rnd(b_, tq, H, D, grad=True), rnd(b_, tk, Hkv, D, grad=True), rnd(b_, tk, Hkv, D, grad=True)
        scale = 1.0 / math.sqrt(D)
        flops = 4.0 * b_ * H * tq * tk * D
        shape = sz(b_, tq, tk, H, Hkv, D)
        for variant, wrap in variants:
            for kind, f in (("math", attention_math), ("sdpa", attention_sdpa)):
                fa = wrap(f)
                fwd = lambda: fa(q, k, v, scale)
                t_fwd = median_ms(fwd, reps)
                add(f"attention_forward{'_act' if act else ''}_{kind}", shape, t_fwd, flops, "GFLOP/s", variant)
                if not act:
                    out = fwd()
                    out = out[0] if isinstance(out, tuple) else out
                    do = torch.ones_like(out)

                    def fb():
                        o = fa(q, k, v, scale)
                        o = o[0] if isinstance(o, tuple) else o
                        return torch.autograd.grad(o, (q, k, v), do)

                    add(f"attention_backward_{kind}", shape, max(median_ms(fb, reps) - t_fwd, 1e-6), 2.0 * flops, "GFLOP/s", variant)

    n = min(4 * W * qkv + 3 * W * Fm, 1 << 28)
    p = torch.nn.Parameter(rnd(n))
    p.grad = rnd(n)
    opt = torch.optim.AdamW([p], lr=1e-4, fused=True)
    add("adamw_step", sz(n), median_ms(opt.step, reps), 7.0 * n * 4, "GB/s", "fused")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--preset", choices=list(PRESETS))
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("torch_cuda_ops: no CUDA device visible to torch")
    results = []
    for name in PRESETS:
        if args.preset in (None, name):
            bench_preset(name, args.reps, not args.no_compile, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
