// Renderer throughput on a representative tabletop scene: 64x64 images with shadows, batches of
// 1, 8 and 64 environments, on 1 and 2 threads, plus a few variants (no shadows, 2x2
// supersampling, 128x128). Writes bench/results/render-cpu.json.
//
//   npm run bench:render            (compiles the TypeScript first)
//   node bench/render.bench.mjs [--quick] [--out path]
//
// Each configuration is timed in `repeats` rounds of at least `roundSeconds`; the median round
// is reported with the slowest and fastest, since other processes on the machine make single
// timings noisy, and so is the CPU time per image (work done, not time spent waiting).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist', 'index.js');
if (!existsSync(dist)) {
  console.error('bench/render.bench.mjs: dist/ is missing; run `npm run compile` first');
  process.exit(1);
}
const { buildGeoms, buildInfo, cpuInfo, packScenes, renderScenes, setNumThreads, axisAngleRotation } = await import(dist);

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outPath = args.includes('--out') ? args[args.indexOf('--out') + 1] : join(root, 'bench', 'results', 'render-cpu.json');
const repeats = quick ? 3 : 7;
const roundSeconds = quick ? 0.1 : 0.4;
const seed = 20240607;

/** xorshift32: the scenes' object placement, reproducible from `seed`. */
function rng(s) {
  let x = s >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const objectKinds = ['box', 'capsule', 'cylinder', 'sphere', 'ellipsoid'];
const textures = ['none', 'none', 'checker', 'stripes', 'noise'];

/** A table on a floor with 14 objects on it: 20 geoms, one light with shadows. */
function tabletop(env, shadows) {
  const rand = rng(seed + env * 7919);
  const tableTop = 0.75;
  const specs = [
    { type: 'plane', size: [0, 0], pos: [0, 0, 0], rgba: [0.45, 0.45, 0.5, 1] },
    { type: 'plane', size: [0.6, 0.4], pos: [0, 0, tableTop], rgba: [0.75, 0.6, 0.45, 1], texture: 'checker', texScale: 0.08, texColor: [0.55, 0.4, 0.3] },
  ];
  for (const [x, y] of [[-0.55, -0.35], [0.55, -0.35], [-0.55, 0.35], [0.55, 0.35]]) {
    specs.push({ type: 'cylinder', size: [0.025, tableTop / 2], pos: [x, y, tableTop / 2], rgba: [0.3, 0.25, 0.2, 1] });
  }
  for (let i = 0; i < 14; i++) {
    const type = objectKinds[i % objectKinds.length];
    const s = 0.02 + 0.03 * rand();
    const size = type === 'box' || type === 'ellipsoid' ? [s, s * (0.5 + rand()), s * (0.5 + rand())] : type === 'sphere' ? [s] : [s * 0.7, s];
    const halfHeight = type === 'sphere' ? s : type === 'capsule' ? size[0] + size[1] : type === 'cylinder' ? size[1] : size[2];
    specs.push({
      type,
      size,
      pos: [-0.5 + rand(), -0.3 + 0.6 * rand(), tableTop + halfHeight],
      mat: axisAngleRotation([0, 0, 1], 2 * Math.PI * rand()),
      rgba: [rand(), rand(), rand(), 1],
      texture: textures[i % textures.length],
      texScale: 0.02,
      texColor: [rand(), rand(), rand()],
    });
  }
  return {
    geoms: buildGeoms(specs),
    camera: { pos: [0.05 * Math.sin(env), -0.75, 1.35], lookAt: [0, 0, tableTop], up: [0, 0, 1], fovyDeg: 55 },
    lighting: { direction: [0.4, -0.3, 1], color: [0.8, 0.8, 0.78], ambient: [0.22, 0.22, 0.25], shadows },
    background: [0.55, 0.65, 0.8],
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function measure({ batch, threads, width = 64, height = 64, supersample = 1, shadows = true }) {
  setNumThreads(threads);
  const scenes = Array.from({ length: batch }, (_, env) => tabletop(env, shadows));
  const packed = packScenes(scenes);
  const out = new Uint8Array(batch * width * height * 3);
  const options = { width, height, supersample, out };
  renderScenes(packed, options); // warm-up
  const rates = [];
  const cpuMsPerImage = [];
  for (let r = 0; r < repeats; r++) {
    let calls = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    let elapsed = 0;
    do {
      renderScenes(packed, options);
      calls++;
      elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    } while (elapsed < roundSeconds);
    const cpu = process.cpuUsage(cpu0);
    rates.push((calls * batch) / elapsed);
    cpuMsPerImage.push((cpu.user + cpu.system) / 1000 / (calls * batch));
  }
  const imagesPerSecond = median(rates);
  return {
    batch,
    threads,
    width,
    height,
    supersample,
    shadows,
    imagesPerSecond: Math.round(imagesPerSecond),
    msPerImage: +(1000 / imagesPerSecond).toFixed(4),
    msPerBatch: +((1000 * batch) / imagesPerSecond).toFixed(3),
    slowestRoundImagesPerSecond: Math.round(Math.min(...rates)),
    fastestRoundImagesPerSecond: Math.round(Math.max(...rates)),
    // CPU time of this process (all threads) per image: the work itself, counted while running
    // and not while waiting for a core, so less sensitive to other processes than wall time
    // (pool threads spinning for work are included).
    cpuMsPerImage: +median(cpuMsPerImage).toFixed(4),
  };
}

function packCost(batch) {
  const scenes = Array.from({ length: batch }, (_, env) => tabletop(env, true));
  let packed = packScenes(scenes);
  const n = quick ? 200 : 2000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) packed = packScenes(scenes, packed);
  return { batch, msPerPack: +(Number(process.hrtime.bigint() - t0) / 1e6 / n).toFixed(4) };
}

const threadsBefore = cpuInfo().threads;
const loadBefore = loadavg();
const results = [];
const configs = [];
for (const threads of [1, 2]) for (const batch of [1, 8, 64]) configs.push({ batch, threads });
configs.push({ batch: 64, threads: 2, shadows: false });
configs.push({ batch: 64, threads: 2, supersample: 2 });
configs.push({ batch: 64, threads: 2, width: 128, height: 128 });
for (const c of configs) {
  const r = measure(c);
  results.push(r);
  console.log(
    `${r.width}x${r.height} ss${r.supersample} ${r.shadows ? 'shadows   ' : 'no shadows'} batch ${String(r.batch).padStart(2)} threads ${r.threads}: ` +
      `${String(r.imagesPerSecond).padStart(6)} images/s (${r.msPerImage.toFixed(3)} ms/image; rounds ${r.slowestRoundImagesPerSecond}..${r.fastestRoundImagesPerSecond}; ` +
      `${r.cpuMsPerImage.toFixed(3)} CPU ms/image)`,
  );
}
const packing = [1, 8, 64].map(packCost);
packing.forEach((p) => console.log(`packScenes, batch ${p.batch}: ${p.msPerPack} ms`));
setNumThreads(threadsBefore);

const report = {
  benchmark: 'render',
  date: new Date().toISOString(),
  scene: 'tabletop: infinite floor plane, checkered table-top plane (0.6 x 0.4 half extents), 4 cylinder legs, 14 objects (boxes, capsules, cylinders, spheres, ellipsoids; some textured) = 20 geoms; one directional light',
  seed,
  method: `median of ${repeats} rounds of >= ${roundSeconds} s each, sync renderScenes on a packed batch into a reused output buffer`,
  machine: {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    logicalCpus: cpus().length,
    loadAverageBefore: loadBefore.map((v) => +v.toFixed(2)),
    loadAverageAfter: loadavg().map((v) => +v.toFixed(2)),
    note: 'machine shared with other builds and runs: figures are medians and the spread is shown',
  },
  build: buildInfo(),
  cpu: cpuInfo(),
  node: process.version,
  results,
  packing,
};
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, JSON.stringify(report, null, 2) + '\n');
console.log(`wrote ${outPath}`);
