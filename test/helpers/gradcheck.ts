/**
 * A gradient checker written against the public TypeScript API (independent of the C++ one):
 * L = sum_k <R_k, y_k> over the differentiable outputs; the backward op's d<x> is compared with
 * central finite differences of L in float64, then float32 results are compared with float64.
 */
import { listOps, runOp, Tensor, type NativeOpInfo, type OpName } from '../../lib/index.js';

export interface GradCase {
  /** Float inputs as float64 tensors; int32/uint8 inputs as they are. */
  inputs: Record<string, Tensor>;
  attrs?: Record<string, number>;
}

export interface GradReport {
  probes: number;
  worstGradError: number; // |a - n| / (atol + rtol * max(|a|, |n|)); <= 1 passes
  worstF32Error: number; // max |f32 - f64| / max(1e-3, max |f64|)
  failures: string[];
}

let infoCache: Map<string, NativeOpInfo> | undefined;
export function opInfo(name: string): NativeOpInfo {
  infoCache ??= new Map(listOps().map((o) => [o.name, o]));
  const info = infoCache.get(name);
  if (!info) throw new Error(`no op ${name}`);
  return info;
}

function call(name: string, inputs: Record<string, Tensor>, attrs: Record<string, number> = {}): Record<string, Tensor> {
  return runOp(name as OpName, inputs as never, attrs as never) as Record<string, Tensor>;
}

function asFloat32(t: Tensor): Tensor {
  return t.data instanceof Float64Array ? new Tensor(Float32Array.from(t.data), t.shape) : t;
}
function asFloat64(t: Tensor): Tensor {
  return t.data instanceof Float32Array ? new Tensor(Float64Array.from(t.data), t.shape) : t;
}

function backwardInputs(fwd: NativeOpInfo, bwd: NativeOpInfo, inputs: Record<string, Tensor>, outputs: Record<string, Tensor>, R: Record<string, Tensor>) {
  const b: Record<string, Tensor> = {};
  for (const i of bwd.inputs) {
    const src = R[i.name] ?? inputs[i.name] ?? outputs[i.name];
    if (src) b[i.name] = src;
    else if (!i.optional) throw new Error(`cannot wire ${bwd.name} input ${i.name}`);
  }
  return b;
}

function backwardAttrs(bwd: NativeOpInfo, attrs: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of bwd.attrs) if (a.name in attrs) out[a.name] = attrs[a.name]!;
  return out;
}

export function gradcheck(op: string, c: GradCase, seed: number, opts = { h: 1e-5, rtol: 1e-5, atol: 1e-7, maxProbes: 24, f32Tol: 2e-4 }): GradReport {
  const fwd = opInfo(op);
  if (!fwd.backward) throw new Error(`${op} has no backward op`);
  const bwd = opInfo(fwd.backward);
  const attrs = c.attrs ?? {};
  const y = call(op, c.inputs, attrs);
  const R: Record<string, Tensor> = {};
  fwd.outputs.forEach((o, k) => {
    if (o.differentiable) R[`d${o.name}`] = Tensor.randn(y[o.name]!.shape, { seed, stream: 100 + k, dtype: 'float64' });
  });
  const loss = (out: Record<string, Tensor>) => {
    let L = 0;
    for (const [dname, r] of Object.entries(R)) {
      const t = out[dname.slice(1)]!.data;
      for (let i = 0; i < r.size; i++) L += r.data[i]! * t[i]!;
    }
    return L;
  };
  const grads = call(fwd.backward, backwardInputs(fwd, bwd, c.inputs, y, R), backwardAttrs(bwd, attrs));
  const report: GradReport = { probes: 0, worstGradError: 0, worstF32Error: 0, failures: [] };
  let draw = 0;
  for (const [gname, g] of Object.entries(grads)) {
    const xname = gname.slice(1);
    const x = c.inputs[xname];
    if (!x) {
      // The gradient of an optional input the case leaves out comes back empty.
      if (g.size === 0 && fwd.inputs.some((i) => i.name === xname && i.optional)) continue;
      throw new Error(`${gname} matches no input`);
    }
    const n = x.size;
    const picks = Tensor.rand([Math.min(n, opts.maxProbes)], { seed, stream: 999, offset: draw, dtype: 'float64' });
    draw += picks.size;
    const probes = n <= opts.maxProbes ? [...Array(n).keys()] : Array.from(picks.data, (u) => Math.floor(u * n));
    for (const i of probes) {
      const saved = x.data[i]!;
      x.data[i] = saved + opts.h;
      const Lp = loss(call(op, c.inputs, attrs));
      x.data[i] = saved - opts.h;
      const Lm = loss(call(op, c.inputs, attrs));
      x.data[i] = saved;
      const numeric = (Lp - Lm) / (2 * opts.h);
      const analytic = g.data[i]!;
      const err = Math.abs(analytic - numeric) / (opts.atol + opts.rtol * Math.max(Math.abs(analytic), Math.abs(numeric)));
      report.worstGradError = Math.max(report.worstGradError, err);
      report.probes++;
      if (err > 1) report.failures.push(`${op}: d${xname}[${i}] analytic ${analytic} vs numeric ${numeric}`);
    }
  }
  // float32 path against float64 on the same (float32-rounded) values.
  const in32: Record<string, Tensor> = {};
  const in64: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(c.inputs)) {
    in32[k] = asFloat32(t);
    in64[k] = asFloat64(in32[k]!);
  }
  const R32: Record<string, Tensor> = {};
  const R64: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(R)) {
    R32[k] = asFloat32(t);
    R64[k] = asFloat64(R32[k]!);
  }
  const y32 = call(op, in32, attrs);
  const y64 = call(op, in64, attrs);
  const g32 = call(fwd.backward, backwardInputs(fwd, bwd, in32, y32, R32), backwardAttrs(bwd, attrs));
  const g64 = call(fwd.backward, backwardInputs(fwd, bwd, in64, y64, R64), backwardAttrs(bwd, attrs));
  for (const [a, b, what] of [[y32, y64, 'output'], [g32, g64, 'gradient']] as const) {
    for (const [k, t32] of Object.entries(a)) {
      const t64 = b[k]!;
      if (!(t32.data instanceof Float32Array)) continue;
      let scale = 1e-3;
      let worst = 0;
      for (let i = 0; i < t64.size; i++) scale = Math.max(scale, Math.abs(t64.data[i]!));
      for (let i = 0; i < t64.size; i++) worst = Math.max(worst, Math.abs(t32.data[i]! - t64.data[i]!));
      const rel = worst / scale;
      report.worstF32Error = Math.max(report.worstF32Error, rel);
      if (rel > opts.f32Tol) report.failures.push(`${op}: float32 ${what} ${k} deviates by ${rel}`);
    }
  }
  return report;
}
