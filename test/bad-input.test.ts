// Bad input at the model, controller, adapter, buffer, normalization and environment level: each
// row gives a call through the public API and the typed error it must raise, with a message that
// names the function and the field. None may crash the process or return garbage; asynchronous
// entry points must reject (never throw synchronously). test/errors.test.ts covers the op layer.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { expectRowError, type ErrorRow } from './helpers/error-rows.js';

import {
  Adapter,
  ArgumentError,
  DTypeError,
  loadController,
  Normalization,
  optimizePrompt,
  parseShift,
  Policy,
  PolicyController,
  RangeValueError,
  Rng,
  ShapeError,
  TabletopEnv,
  Tokenizer,
  TrajectoryBuffer,
  UnsupportedError,
  type AdapterOptions,
  type CreateOptions,
  type DemoEpisode,
  type Observation,
  type ObservationBatch,
  type PolicyContext,
  type PolicyObservation,
  type TrainingBatch,
} from '../lib/index.js';

type ErrorClass = new (...args: never[]) => Error;

type Row = ErrorRow;

interface AsyncRow {
  what: string;
  call: () => Promise<unknown>;
  error: ErrorClass;
  message: RegExp;
}

const INSTRUCTION = 'put the carrot on the plate';
const tokenizer = Tokenizer.fromTexts([INSTRUCTION]);
const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 1 });
const baseline = Policy.create({ preset: 'tiny', tokenizer, seed: 1, config: { use_prompt: false, use_state_expert: false } });
const c = policy.config;
const S = c.image_size;
const B = 2;
const chunkLength = B * c.horizon * c.action_dim;
const identity = (dim: number) => ({ mean: new Array<number>(dim).fill(0), std: new Array<number>(dim).fill(1) });
const normalization = new Normalization(identity(c.state_dim), identity(c.action_dim));

function observation(overrides: Partial<PolicyObservation> = {}): PolicyObservation {
  const data = new Uint8Array(S * S * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) & 255;
  return { image: { width: S, height: S, data }, instruction: INSTRUCTION, state: [0.1, -0.2, 0.3, 0.04], embodimentId: 0, ...overrides };
}

const good: ObservationBatch = policy.pack([observation(), observation({ embodimentId: 1 })]);
const goodActions = new Float32Array(chunkLength);
const trainBatch = (actions: Float32Array | Float64Array): TrainingBatch => ({ observations: good, actions });

/** A copy of an array with one element replaced. */
function withValue<T extends Float32Array | Float64Array | Int32Array>(a: T, index: number, value: number): T {
  const copy = a.slice() as T;
  copy[index] = value;
  return copy;
}

/** Flow targets for flowLoss / flowStep / lossAndGrads, with valid values. */
function targets() {
  return {
    actions: new Float32Array(chunkLength),
    actionNoise: new Float32Array(chunkLength),
    actionTime: new Float32Array(B).fill(0.5),
    actionWeights: new Float32Array(B).fill(1),
    stateNoise: new Float32Array(B * c.state_dim),
    stateTime: new Float32Array(B).fill(0.5),
  };
}

function episode(overrides: Partial<DemoEpisode> = {}): DemoEpisode {
  const steps = 3;
  return {
    task: 'carrot-on-plate',
    instruction: INSTRUCTION,
    episodeIndex: 0,
    configuration: 0,
    seed: 0,
    embodimentId: 0,
    success: false,
    stageSuccess: [false],
    state: new Float32Array(steps * 4).fill(0.1),
    action: new Float32Array(steps * 7),
    image: new Uint8Array(steps * S * S * 3),
    ...overrides,
  };
}

function filledBuffer(): TrajectoryBuffer {
  const buffer = new TrajectoryBuffer({ capacity: 4, imageSize: { width: S, height: S } });
  buffer.add(episode());
  return buffer;
}

// Checkpoint files for load(): written once, in a fresh temporary folder.
const dir = mkdtempSync(join(tmpdir(), 'vla-ttt-bad-input-'));
const files = {
  good: join(dir, 'good.safetensors'),
  text: join(dir, 'notes.txt'),
  truncated: join(dir, 'truncated.safetensors'),
  empty: join(dir, 'empty.safetensors'),
  foreign: join(dir, 'foreign.safetensors'),
  folder: join(dir, 'a-folder.safetensors'),
  noNormalization: join(dir, 'no-normalization.safetensors'),
};

/** A well-formed safetensors file with one tensor and no vla-ttt metadata. */
function foreignSafetensors(): Buffer {
  const header = JSON.stringify({ __metadata__: { format: 'pt' }, w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } });
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, Buffer.from(header), Buffer.alloc(8)]);
}

beforeAll(() => {
  policy.save(files.good);
  policy.save(files.noNormalization);
  writeFileSync(files.text, 'these are notes, not weights\n'.repeat(4));
  const bytes = readFileSync(files.good);
  writeFileSync(files.truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  writeFileSync(files.empty, new Uint8Array(0));
  writeFileSync(files.foreign, foreignSafetensors());
  mkdirSync(files.folder);
});

const createRows: Row[] = [
  { what: 'create without a tokenizer', call: () => Policy.create({ preset: 'tiny' } as CreateOptions), error: ArgumentError, message: /Policy\.create: 'tokenizer' must be a Tokenizer/ },
  { what: 'create with options that are not an object', call: () => Policy.create(undefined as unknown as CreateOptions), error: ArgumentError, message: /Policy\.create: options must be an object/ },
  { what: 'unknown preset', call: () => Policy.create({ preset: 'huge' as never, tokenizer }), error: RangeValueError, message: /unknown preset 'huge' \(tiny, small, base, pi0, critic-tiny, critic-small\)/ },
  { what: 'negative depth', call: () => Policy.create({ preset: 'tiny', tokenizer, config: { depth: -1 } }), error: RangeValueError, message: /depth/ },
  { what: 'fractional depth', call: () => Policy.create({ preset: 'tiny', tokenizer, config: { depth: 1.5 } }), error: RangeValueError, message: /depth/ },
  { what: 'depth as a string', call: () => Policy.create({ preset: 'tiny', tokenizer, config: { depth: 'two' as unknown as number } }), error: RangeValueError, message: /depth/ },
  { what: 'kv heads not dividing the heads', call: () => Policy.create({ preset: 'tiny', tokenizer, config: { num_heads: 4, num_kv_heads: 3 } }), error: RangeValueError, message: /num_kv_heads = 3 violates num_kv_heads divides num_heads/ },
  { what: 'odd head_dim (RoPE pairs)', call: () => Policy.create({ preset: 'tiny', tokenizer, config: { head_dim: 7 } }), error: RangeValueError, message: /head_dim = 7 violates/ },
  { what: 'odd backbone width', call: () => Policy.create({ preset: 'tiny', tokenizer, config: { backbone: { width: 15, mlp_dim: 24 } } }), error: RangeValueError, message: /backbone\.width = 15 violates an even width/ },
  { what: 'patch size not dividing the image', call: () => Policy.create({ preset: 'tiny', tokenizer, config: { patch_size: 5 } }), error: RangeValueError, message: /patch_size = 5 violates patch_size divides image_size/ },
  { what: 'zero horizon', call: () => Policy.create({ preset: 'tiny', tokenizer, config: { horizon: 0 } }), error: RangeValueError, message: /horizon/ },
  { what: 'zero embodiments', call: () => Policy.create({ preset: 'tiny', tokenizer, config: { num_embodiments: 0 } }), error: RangeValueError, message: /num_embodiments/ },
  { what: 'state expert without a prompt', call: () => Policy.create({ preset: 'tiny', tokenizer, config: { use_prompt: false } }), error: RangeValueError, message: /use_state_expert .* needs the prompt/ },
  { what: 'unknown config key', call: () => Policy.create({ preset: 'tiny', tokenizer, config: { deepth: 2 } as never }), error: RangeValueError, message: /unknown key 'deepth'/ },
  { what: 'dtype float16', call: () => Policy.create({ preset: 'tiny', tokenizer, dtype: 'float16' as never }), error: ArgumentError, message: /'dtype' must be 'float32' or 'float64'/ },
  { what: 'negative seed', call: () => Policy.create({ preset: 'tiny', tokenizer, seed: -1 }), error: RangeValueError, message: /NativePolicy: 'seed' = -1 is not in/ },
  { what: 'fractional seed', call: () => Policy.create({ preset: 'tiny', tokenizer, seed: 1.5 }), error: RangeValueError, message: /'seed' must be an integer/ },
  { what: 'NaN seed', call: () => Policy.create({ preset: 'tiny', tokenizer, seed: NaN }), error: RangeValueError, message: /'seed' = nan is not in/ },
];

const packRows: Row[] = [
  { what: 'no observations (batch 0)', call: () => policy.act([]), error: ArgumentError, message: /pack: no observations/ },
  { what: 'observation that is not an object', call: () => policy.act([null as unknown as PolicyObservation]), error: ArgumentError, message: /pack: observation 0 must be an object/ },
  { what: 'observation without an image', call: () => policy.act([observation({ image: null })]), error: ArgumentError, message: /pack: observation 0 has no image/ },
  { what: 'image of the wrong size', call: () => policy.act([observation({ image: { width: 8, height: 8, data: new Uint8Array(192) } })]), error: ShapeError, message: /pack: observation 0 has a 8x8 image .*takes 16x16 RGB/ },
  { what: 'image bytes not matching its size', call: () => policy.act([observation({ image: { width: S, height: S, data: new Uint8Array(5) } })]), error: ShapeError, message: /pack: observation 0 has a 16x16 image \(5 bytes\)/ },
  { what: 'image as a Float64Array', call: () => policy.act([observation({ image: { width: S, height: S, data: new Float64Array(S * S * 3) as unknown as Uint8Array } })]), error: DTypeError, message: /pack: observation 0 image\.data is a Float64Array; expected a Uint8Array/ },
  { what: 'instruction that is not a string', call: () => policy.act([observation({ instruction: 42 as unknown as string })]), error: ArgumentError, message: /pack: observation 0 instruction must be a string/ },
  { what: 'state of the wrong length', call: () => policy.act([observation({ state: [1, 2, 3] })]), error: ShapeError, message: /pack: observation 0 state has 3 numbers, expected 4/ },
  { what: 'NaN in the state', call: () => policy.act([observation({ state: [1, NaN, 3, 4] })]), error: RangeValueError, message: /pack: observation 0 state\[1\] is NaN/ },
  { what: 'Infinity in the state', call: () => policy.act([observation(), observation({ state: [1, 2, -Infinity, 4] })]), error: RangeValueError, message: /pack: observation 1 state\[2\] is -Infinity/ },
  { what: 'embodiment id out of range', call: () => policy.act([observation({ embodimentId: 9 })]), error: RangeValueError, message: /pack: observation 0 embodimentId 9 is not in \[0, 2\)/ },
  { what: 'negative embodiment id', call: () => policy.act([observation({ embodimentId: -1 })]), error: RangeValueError, message: /pack: observation 0 embodimentId -1 is not in \[0, 2\)/ },
  { what: 'fractional embodiment id', call: () => policy.act([observation({ embodimentId: 0.5 })]), error: RangeValueError, message: /pack: observation 0 embodimentId 0\.5 is not in \[0, 2\)/ },
  { what: 'NaN embodiment id', call: () => policy.act([observation({ embodimentId: NaN })]), error: RangeValueError, message: /pack: observation 0 embodimentId NaN/ },
  { what: 'reuse buffer without images', call: () => policy.pack([observation(), observation()], { ...good, images: undefined as unknown as Uint8Array }), error: ArgumentError, message: /pack: `reuse` has no image buffer/ },
];

const batchRows: Row[] = [
  { what: 'observations missing', call: () => policy.act(undefined as unknown as ObservationBatch), error: ArgumentError, message: /act: argument 'observations' is required/ },
  { what: 'batch larger than the arrays', call: () => policy.act({ ...good, batch: 3 }), error: ShapeError, message: /act: 'images' has 1536 elements, expected batch \* 16 \* 16 \* 3 = 2304/ },
  { what: 'batch 0', call: () => policy.act({ ...good, batch: 0 }), error: RangeValueError, message: /act: 'batch' = 0 is not in \[1,/ },
  { what: 'fractional batch', call: () => policy.act({ ...good, batch: 1.5 }), error: RangeValueError, message: /act: 'batch' must be an integer, got 1\.5/ },
  { what: 'batch missing', call: () => policy.act({ ...good, batch: undefined as unknown as number }), error: ArgumentError, message: /act: 'batch' \(the number of observations\) is required/ },
  { what: 'images as a Float64Array', call: () => policy.act({ ...good, images: new Float64Array(B * S * S * 3) as unknown as Uint8Array }), error: DTypeError, message: /act: 'images' must be a Uint8Array/ },
  { what: 'images of the wrong length', call: () => policy.act({ ...good, images: new Uint8Array(7) }), error: ShapeError, message: /act: 'images' has 7 elements/ },
  { what: 'state as an Int32Array', call: () => policy.act({ ...good, state: new Int32Array(B * 4) as unknown as Float32Array }), error: DTypeError, message: /act: 'state' must be a Float32Array/ },
  { what: 'state as a Float64Array on a float32 policy', call: () => policy.act({ ...good, state: new Float64Array(B * 4) }), error: DTypeError, message: /act: 'state' must be a Float32Array/ },
  { what: 'NaN in a packed state', call: () => policy.act({ ...good, state: withValue(good.state, 5, NaN) }), error: RangeValueError, message: /act: state\[1, 1\] is NaN/ },
  { what: 'text missing', call: () => policy.act({ ...good, text: undefined as unknown as Int32Array }), error: ArgumentError, message: /act: 'text' is required/ },
  { what: 'text token id beyond the vocabulary', call: () => policy.act({ ...good, text: withValue(good.text, 0, 999) }), error: RangeValueError, message: /act: text\[0, 0\] = 999 is outside the vocabulary \[0, 7\)/ },
  { what: 'negative text token id', call: () => policy.act({ ...good, text: withValue(good.text, 5, -3) }), error: RangeValueError, message: /act: text\[1, 1\] = -3 is outside the vocabulary/ },
  { what: 'text as a Float32Array', call: () => policy.act({ ...good, text: new Float32Array(B * c.max_text_len) as unknown as Int32Array }), error: DTypeError, message: /act: 'text' must be a Int32Array/ },
  { what: 'packed embodiment out of range', call: () => policy.act({ ...good, embodiment: Int32Array.from([0, 2]) }), error: RangeValueError, message: /act: embodiment\[1\] = 2 is not a known embodiment id \(0\.\.1\)/ },
  { what: 'packed embodiment negative', call: () => policy.act({ ...good, embodiment: Int32Array.from([-1, 0]) }), error: RangeValueError, message: /act: embodiment\[0\] = -1 is not a known embodiment id/ },
  { what: 'encodings of the wrong length', call: () => policy.act({ ...good, encodings: new Float32Array(3) }), error: ShapeError, message: /act: 'encodings' has 3 elements, expected batch \* encodingSize\(\)/ },
  { what: 'NaN in encodings', call: () => policy.promptStep({ ...good, images: undefined, encodings: new Float32Array(B * policy.encodingSize).fill(NaN) } as ObservationBatch), error: RangeValueError, message: /promptStep: 'encodings'\[0\] is NaN/ },
];

const actRows: Row[] = [
  { what: 'act seed negative', call: () => policy.act(good, { seed: -1 }), error: RangeValueError, message: /act: 'seed' = -1 is not in/ },
  { what: 'act seed fractional', call: () => policy.act(good, { seed: 0.25 }), error: RangeValueError, message: /act: 'seed' must be an integer/ },
  { what: 'act seed beyond 64 bits', call: () => policy.act(good, { seed: 2n ** 64n }), error: RangeValueError, message: /act: 'seed' does not fit in 64 bits/ },
  { what: 'noise of the wrong length (horizon or action dims)', call: () => policy.act(good, { noise: new Float32Array(B * 3 * 6) }), error: ShapeError, message: /act: 'noise' has 36 elements, expected batch \* horizon \* action_dim = 42/ },
  { what: 'noise as a Float64Array', call: () => policy.act(good, { noise: new Float64Array(chunkLength) }), error: DTypeError, message: /act: 'noise' must be a Float32Array/ },
  { what: 'NaN in the noise', call: () => policy.act(good, { noise: withValue(new Float32Array(chunkLength), 3, NaN) }), error: RangeValueError, message: /act: 'noise'\[3\] is NaN/ },
  { what: 'dropPrompt of the wrong length', call: () => policy.act(good, { dropPrompt: new Uint8Array(5) }), error: ShapeError, message: /act: 'dropPrompt' has 5 elements, expected batch = 2/ },
  { what: 'encodingsOut of the wrong length', call: () => policy.act(good, { encodingsOut: new Float32Array(4) }), error: ShapeError, message: /act: 'encodingsOut' has 4 elements/ },
  { what: 'options that are not an object', call: () => policy.act(good, 5 as never), error: ArgumentError, message: /act: argument 'options' must be an object/ },
  { what: 'encode already-encoded observations', call: () => policy.encode({ ...good, encodings: new Float32Array(B * policy.encodingSize) }), error: ArgumentError, message: /encode: the observations are already encoded/ },
  { what: 'predict with x_t of the wrong length', call: () => policy.predict(good, new Float32Array(3), new Float32Array(B)), error: ShapeError, message: /predict: 'xt' has 3 elements/ },
  { what: 'predict with NaN time', call: () => policy.predict(good, new Float32Array(chunkLength), Float32Array.from([0.5, NaN])), error: RangeValueError, message: /predict: 't'\[1\] is NaN/ },
];

const trainRows: Row[] = [
  { what: 'training batch missing', call: () => policy.trainStep(undefined as unknown as TrainingBatch), error: ArgumentError, message: /trainStep: batch must be \{ observations, actions \}/ },
  { what: 'actions of the wrong length (horizon or action dims)', call: () => policy.trainStep(trainBatch(new Float32Array(B * 4 * 7))), error: ShapeError, message: /trainStep: 'actions' has 56 elements, expected batch \* horizon \* action_dim = 42/ },
  { what: 'actions as a Float64Array', call: () => policy.trainStep(trainBatch(new Float64Array(chunkLength))), error: DTypeError, message: /trainStep: 'actions' must be a Float32Array/ },
  { what: 'actions missing', call: () => policy.trainStep({ observations: good } as TrainingBatch), error: ArgumentError, message: /trainStep: 'actions' is required/ },
  { what: 'NaN in the actions', call: () => policy.trainStep(trainBatch(withValue(goodActions, 10, NaN))), error: RangeValueError, message: /trainStep: 'actions'\[10\] is NaN/ },
  { what: 'Infinity in the actions', call: () => policy.trainStep(trainBatch(withValue(goodActions, 0, Infinity))), error: RangeValueError, message: /trainStep: 'actions'\[0\] is Infinity/ },
  { what: 'NaN in the observations state', call: () => policy.trainStep({ observations: { ...good, state: withValue(good.state, 0, NaN) }, actions: goodActions }), error: RangeValueError, message: /trainStep: state\[0, 0\] is NaN/ },
  { what: 'lr negative', call: () => policy.trainStep(trainBatch(goodActions), { lr: -1 }), error: RangeValueError, message: /trainStep: 'lr' = -1 is not in \(0, 10\]/ },
  { what: 'lr zero', call: () => policy.trainStep(trainBatch(goodActions), { lr: 0 }), error: RangeValueError, message: /trainStep: 'lr' = 0 is not in \(0, 10\]/ },
  { what: 'lr NaN', call: () => policy.trainStep(trainBatch(goodActions), { lr: NaN }), error: RangeValueError, message: /trainStep: 'lr' = nan is not in/ },
  { what: 'lr as a string', call: () => policy.trainStep(trainBatch(goodActions), { lr: '1e-3' as unknown as number }), error: ArgumentError, message: /trainStep: 'lr' must be a number/ },
  { what: 'beta1 of 1', call: () => policy.trainStep(trainBatch(goodActions), { beta1: 1 }), error: RangeValueError, message: /trainStep: 'beta1' = 1 is not in/ },
  { what: 'eps zero', call: () => policy.trainStep(trainBatch(goodActions), { eps: 0 }), error: RangeValueError, message: /trainStep: 'eps' = 0 is not in/ },
  { what: 'maxGradNorm NaN', call: () => policy.trainStep(trainBatch(goodActions), { maxGradNorm: NaN }), error: RangeValueError, message: /trainStep: 'maxGradNorm' = nan/ },
  { what: 'dropProbability above 1', call: () => policy.trainStep(trainBatch(goodActions), { dropProbability: 1.5 }), error: RangeValueError, message: /trainStep: 'dropProbability' = 1\.5 is not in \[0, 1\]/ },
  { what: 'negative stateWeight', call: () => policy.trainStep(trainBatch(goodActions), { stateWeight: -1 }), error: RangeValueError, message: /trainStep: 'stateWeight' = -1/ },
  { what: 'negative step', call: () => policy.trainStep(trainBatch(goodActions), { step: -2 }), error: RangeValueError, message: /trainStep: 'step' = -2 is not in/ },
  { what: 'unknown parameter group', call: () => policy.trainStep(trainBatch(goodActions), { groups: ['head' as never] }), error: RangeValueError, message: /trainStep: unknown parameter group 'head'/ },
  { what: 'no parameter groups', call: () => policy.trainStep(trainBatch(goodActions), { groups: [] }), error: RangeValueError, message: /trainStep: 'groups' is empty/ },
  { what: 'both losses off', call: () => policy.trainStep(trainBatch(goodActions), { actionLoss: false, stateLoss: false }), error: ArgumentError, message: /no loss is enabled/ },
  { what: 'promptStep lr NaN', call: () => policy.promptStep(good, { lr: NaN }), error: RangeValueError, message: /promptStep: 'lr' = nan is not in/ },
  { what: 'promptStep lr zero', call: () => policy.promptStep(good, { lr: 0 }), error: RangeValueError, message: /promptStep: 'lr' = 0 is not in \(0, 10\]/ },
  { what: 'promptStep negative weightDecay', call: () => policy.promptStep(good, { weightDecay: -0.1 }), error: RangeValueError, message: /promptStep: 'weightDecay' = -0\.1/ },
  { what: 'promptStep fractional seed', call: () => policy.promptStep(good, { seed: 2.5 }), error: RangeValueError, message: /promptStep: 'seed' must be an integer/ },
  { what: 'promptStep state missing', call: () => policy.promptStep({ ...good, state: undefined as unknown as Float32Array }), error: ArgumentError, message: /promptStep: 'state' is required/ },
  { what: 'promptStep on a baseline policy', call: () => baseline.promptStep(good), error: UnsupportedError, message: /promptStep: this policy has no latent prompt/ },
  { what: 'flowStep without actionWeights', call: () => policy.flowStep(good, { ...targets(), actionWeights: undefined }), error: ArgumentError, message: /flowStep: 'actionWeights' \(per-sample coefficients\) is required/ },
  { what: 'flowStep with NaN weights', call: () => policy.flowStep(good, { ...targets(), actionWeights: Float32Array.from([1, NaN]) }), error: RangeValueError, message: /flowStep: 'actionWeights'\[1\] is NaN/ },
  { what: 'flowLoss with time above 1', call: () => policy.flowLoss(good, { ...targets(), actionTime: Float32Array.from([0.5, 2]) }), error: RangeValueError, message: /flowLoss: 'actionTime'\[1\] = 2 is not in \[0, 1\]/ },
  { what: 'flowLoss with NaN noise', call: () => policy.flowLoss(good, { ...targets(), actionNoise: withValue(new Float32Array(chunkLength), 7, NaN) }), error: RangeValueError, message: /flowLoss: 'actionNoise'\[7\] is NaN/ },
  { what: 'lossAndGrads with Infinity state noise', call: () => policy.lossAndGrads(good, { ...targets(), stateNoise: withValue(new Float32Array(B * 4), 2, Infinity) }), error: RangeValueError, message: /lossAndGrads: 'stateNoise'\[2\] is Infinity/ },
];

const paramRows: Row[] = [
  { what: 'setPrompt with the wrong length', call: () => policy.setPrompt(0, [1, 2]), error: ShapeError, message: /setPrompt: 2 values, expected K \* width = 32/ },
  { what: 'setPrompt with NaN', call: () => policy.setPrompt(0, withValue(new Float32Array(32), 3, NaN)), error: RangeValueError, message: /setPrompt: values\[3\] is NaN/ },
  { what: 'setPrompt with Infinity', call: () => policy.setPrompt(1, new Array<number>(32).fill(Infinity)), error: RangeValueError, message: /setPrompt: values\[0\] is Infinity/ },
  { what: 'setPrompt with non-numbers', call: () => policy.setPrompt(1, new Array<unknown>(32).fill('0.1') as unknown as number[]), error: RangeValueError, message: /setPrompt: values\[0\] is 0\.1 \(a string\)/ },
  { what: 'setPrompt negative embodiment', call: () => policy.setPrompt(-1, new Float32Array(32)), error: RangeValueError, message: /setPrompt: embodiment -1 is not in \[0, 2\)/ },
  { what: 'getPrompt embodiment out of range', call: () => policy.getPrompt(2), error: RangeValueError, message: /getPrompt: embodiment 2 is not in \[0, 2\)/ },
  { what: 'getPrompt fractional embodiment', call: () => policy.getPrompt(0.5), error: RangeValueError, message: /getPrompt: embodiment 0\.5 is not in \[0, 2\)/ },
  { what: 'getPrompt on a baseline policy', call: () => baseline.getPrompt(0), error: ArgumentError, message: /getPrompt: this policy has no latent prompt/ },
  { what: 'setParams of the wrong length', call: () => policy.setParams(new Float32Array(10)), error: ShapeError, message: /setParams: 'params' has 10 elements, expected numParams\(\)/ },
  { what: 'setParams as a Float64Array', call: () => policy.setParams(new Float64Array(policy.numParams)), error: DTypeError, message: /setParams: 'params' must be a Float32Array/ },
  { what: 'setParams with NaN', call: () => policy.setParams(withValue(policy.getParams() as Float32Array, 11, NaN)), error: RangeValueError, message: /setParams: element 11 is not finite/ },
  { what: 'setOptimizerState with a negative second moment', call: () => policy.setOptimizerState({ ...policy.getOptimizerState(), v: new Float32Array(policy.numParams).fill(-1) }), error: RangeValueError, message: /set_optimizer_state: element 0 of the moments is not finite \(or v < 0\)/ },
  { what: 'setOptimizerState with a short first moment', call: () => policy.setOptimizerState({ ...policy.getOptimizerState(), m: new Float32Array(3) }), error: ShapeError, message: /setOptimizerState: 'm' has 3 elements/ },
];

const checkpointRows: Row[] = [
  { what: 'load a file that does not exist', call: () => Policy.load(join(dir, 'missing.safetensors')), error: ArgumentError, message: /missing\.safetensors: cannot open \(No such file or directory\)/ },
  { what: 'load a text file', call: () => Policy.load(files.text), error: RangeValueError, message: /notes\.txt: header length \d+ (exceeds the limit|runs past the end of the file)/ },
  { what: 'load an empty file', call: () => Policy.load(files.empty), error: RangeValueError, message: /empty\.safetensors: not a safetensors file \(0 bytes/ },
  { what: 'load a truncated checkpoint', call: () => Policy.load(files.truncated), error: RangeValueError, message: /truncated\.safetensors: .*truncated/ },
  { what: 'load a safetensors file that is not a policy', call: () => Policy.load(files.foreign), error: RangeValueError, message: /foreign\.safetensors: not a vla-ttt policy checkpoint/ },
  { what: 'load a folder', call: () => Policy.load(files.folder), error: ArgumentError, message: /a-folder\.safetensors: is a directory, not a checkpoint file/ },
  { what: 'load with a path that is not a string', call: () => Policy.load(42 as unknown as string), error: ArgumentError, message: /NativePolicy\.load\(path\): path must be a string/ },
  { what: 'save into a folder that does not exist', call: () => policy.save(join(dir, 'no', 'such', 'dir', 'w.safetensors')), error: ArgumentError, message: /w\.safetensors: cannot create/ },
  { what: 'save with a reserved metadata key', call: () => policy.save(join(dir, 'x.safetensors'), { vocab: '[]' }), error: ArgumentError, message: /Policy\.save: metadata key 'vocab' is reserved/ },
  { what: 'save with non-string metadata', call: () => policy.save(join(dir, 'x.safetensors'), { steps: 5 as unknown as string }), error: ArgumentError, message: /save: metadata 'steps' must be a string/ },
  { what: 'save float16 weights as bfloat16', call: () => policy.save(join(dir, 'x.safetensors'), {}, { weights: 'bfloat16' as never }), error: ArgumentError, message: /Policy\.save: weights must be 'float32' or 'float16'/ },
  { what: 'loadController without normalization metadata', call: () => loadController(files.noNormalization), error: ArgumentError, message: /no-normalization\.safetensors: no 'normalization' metadata/ },
  { what: 'loadController on a missing file', call: () => loadController(join(dir, 'gone.safetensors')), error: ArgumentError, message: /gone\.safetensors: cannot open/ },
];

const normalizationRows: Row[] = [
  { what: 'mean and std of different lengths', call: () => new Normalization({ mean: [0, 0], std: [1] }, identity(7)), error: ShapeError, message: /Normalization: state has 2 means but 1 std values/ },
  { what: 'zero std', call: () => new Normalization(identity(4), { mean: [0, 0], std: [1, 0] }), error: RangeValueError, message: /Normalization: action std\[1\] = 0 must be a finite number > 0/ },
  { what: 'NaN mean', call: () => new Normalization({ mean: [0, NaN], std: [1, 1] }, identity(7)), error: RangeValueError, message: /Normalization: state mean\[1\] = NaN must be finite/ },
  { what: 'no dimensions', call: () => new Normalization({ mean: [], std: [] }, identity(7)), error: ShapeError, message: /Normalization: state has no dimensions/ },
  { what: 'fit with states not a multiple of the dimension', call: () => Normalization.fit(new Float32Array(10), new Float32Array(14), 4, 7), error: ShapeError, message: /Normalization\.fit: states has 10 values, not a multiple of stateDim = 4/ },
  { what: 'fit with a zero dimension', call: () => Normalization.fit(new Float32Array(8), new Float32Array(14), 0, 7), error: ArgumentError, message: /Normalization\.fit: stateDim must be a positive integer, got 0/ },
  { what: 'fit with NaN samples', call: () => Normalization.fit(withValue(new Float32Array(8), 2, NaN), new Float32Array(14), 4, 7), error: RangeValueError, message: /Normalization\.fit: states\[2\] is NaN/ },
  { what: 'fit without samples', call: () => Normalization.fit(new Float32Array(0), new Float32Array(0), 4, 7), error: RangeValueError, message: /Normalization\.fit: no samples/ },
  { what: 'normalizeState of the wrong length', call: () => normalization.normalizeState(new Float32Array(6)), error: ShapeError, message: /Normalization\.normalizeState: 6 values, not a multiple of 4/ },
  { what: 'denormalizeAction of the wrong length', call: () => normalization.denormalizeAction(new Float32Array(8)), error: ShapeError, message: /Normalization\.denormalizeAction: 8 values, not a multiple of 7/ },
  { what: 'fromJSON of non-JSON', call: () => Normalization.fromJSON('{', 'ckpt'), error: RangeValueError, message: /ckpt: normalization metadata is not JSON/ },
  { what: 'fromJSON with a negative std', call: () => Normalization.fromJSON(JSON.stringify({ state: { mean: [0], std: [-1] }, action: identity(7) }), 'ckpt'), error: RangeValueError, message: /ckpt: normalization metadata must be/ },
];

const controllerRows: Row[] = [
  { what: 'controller executeSteps 0', call: () => new PolicyController(policy, normalization, { executeSteps: 0 }), error: ArgumentError, message: /PolicyController: executeSteps must be an integer in \[1, 3\]/ },
  { what: 'controller executeSteps beyond the horizon', call: () => new PolicyController(policy, normalization, { executeSteps: 4 }), error: ArgumentError, message: /PolicyController: executeSteps must be an integer in \[1, 3\]/ },
  { what: 'controller negative seed', call: () => new PolicyController(policy, normalization, { seed: -3 }), error: ArgumentError, message: /PolicyController: seed must be a non-negative safe integer, got -3/ },
  { what: 'controller normalization of other dimensions', call: () => new PolicyController(policy, new Normalization(identity(3), identity(7)), {}), error: ShapeError, message: /PolicyController: the normalization has 3 state dimensions but the policy has 4/ },
];

const adapterRows: Row[] = [
  { what: 'adapter capacity 0', call: () => new Adapter(policy, normalization, { capacity: 0 }), error: ArgumentError, message: /Adapter: capacity must be a positive integer, got 0/ },
  { what: 'adapter negative steps', call: () => new Adapter(policy, normalization, { steps: -1 }), error: ArgumentError, message: /Adapter: steps must be a non-negative integer, got -1/ },
  { what: 'adapter batch 0', call: () => new Adapter(policy, normalization, { batch: 0 }), error: ArgumentError, message: /Adapter: batch must be a positive integer, got 0/ },
  { what: 'adapter lr 0', call: () => new Adapter(policy, normalization, { lr: 0 }), error: ArgumentError, message: /Adapter: lr must be in \(0, 1\), got 0/ },
  { what: 'adapter lr NaN', call: () => new Adapter(policy, normalization, { lr: NaN }), error: ArgumentError, message: /Adapter: lr must be in \(0, 1\), got NaN/ },
  { what: 'adapter negative weightDecay', call: () => new Adapter(policy, normalization, { weightDecay: -1 }), error: ArgumentError, message: /Adapter: weightDecay must be a finite number >= 0, got -1/ },
  { what: 'adapter fractional seed', call: () => new Adapter(policy, normalization, { seed: 0.5 }), error: ArgumentError, message: /Adapter: seed must be a non-negative safe integer, got 0\.5/ },
  { what: 'adapter unknown option', call: () => new Adapter(policy, normalization, { step: 5 } as AdapterOptions), error: ArgumentError, message: /Adapter: unknown option 'step'/ },
  { what: 'adapter on a baseline policy', call: () => new Adapter(baseline, normalization), error: ArgumentError, message: /Adapter: the policy needs a latent prompt/ },
  { what: 'adapter normalization of other dimensions', call: () => new Adapter(policy, new Normalization(identity(4), identity(6))), error: ShapeError, message: /Adapter: the normalization has 6 action dimensions but the policy has 7/ },
  { what: 'record an image of the wrong size', call: () => new Adapter(policy, normalization).record('e', observation({ image: { width: 8, height: 8, data: new Uint8Array(192) } }), new Float32Array(7)), error: ShapeError, message: /Adapter\.record: episode 'e' observation has a 8x8 image/ },
  { what: 'record a NaN state', call: () => new Adapter(policy, normalization).record('e', observation({ state: [NaN, 0, 0, 0] }), new Float32Array(7)), error: RangeValueError, message: /Adapter\.record: episode 'e' observation state\[0\] is NaN/ },
  { what: 'record an unknown embodiment', call: () => new Adapter(policy, normalization).record('e', observation({ embodimentId: 5 }), new Float32Array(7)), error: RangeValueError, message: /Adapter\.record: episode 'e' observation embodimentId 5 is not in \[0, 2\)/ },
  { what: 'record an action of the wrong length', call: () => new Adapter(policy, normalization).record('e', observation(), new Float32Array(6)), error: ShapeError, message: /Adapter\.record: action has 6 numbers, expected 7/ },
  { what: 'record a NaN action', call: () => new Adapter(policy, normalization).record('e', observation(), withValue(new Float32Array(7), 6, NaN)), error: RangeValueError, message: /Adapter\.record: action\[6\] is NaN/ },
  { what: 'end an episode never recorded', call: () => new Adapter(policy, normalization).endEpisode('nope', { success: true }), error: ArgumentError, message: /Adapter\.endEpisode: no recorded steps for episode 'nope'/ },
];

const bufferRows: Row[] = [
  { what: 'buffer capacity 0', call: () => new TrajectoryBuffer({ capacity: 0, imageSize: { width: S, height: S } }), error: ArgumentError, message: /TrajectoryBuffer: capacity must be a positive integer, got 0/ },
  { what: 'buffer capacity NaN', call: () => new TrajectoryBuffer({ capacity: NaN, imageSize: { width: S, height: S } }), error: ArgumentError, message: /TrajectoryBuffer: capacity must be a positive integer, got NaN/ },
  { what: 'buffer image width 0', call: () => new TrajectoryBuffer({ imageSize: { width: 0, height: S } }), error: ArgumentError, message: /TrajectoryBuffer: image size must be positive integers, got 0x16/ },
  { what: 'add a state not a multiple of 4', call: () => filledBuffer().add(episode({ state: new Float32Array(7) })), error: ShapeError, message: /TrajectoryBuffer\.add: carrot-on-plate#0 has 7 state values, not a positive multiple of 4/ },
  { what: 'add without frames', call: () => filledBuffer().add(episode({ image: null })), error: ArgumentError, message: /TrajectoryBuffer\.add: carrot-on-plate#0 needs 3 frames of 16x16 RGB \(2304 bytes\), got none/ },
  { what: 'add frames of the wrong size', call: () => filledBuffer().add(episode({ image: new Uint8Array(10) })), error: ShapeError, message: /TrajectoryBuffer\.add: carrot-on-plate#0 needs 3 frames of 16x16 RGB/ },
  { what: 'add actions of the wrong length', call: () => filledBuffer().add(episode({ action: new Float32Array(5) })), error: ShapeError, message: /TrajectoryBuffer\.add: carrot-on-plate#0 has 5 action values, expected 3 steps \* 7 = 21/ },
  { what: 'add a NaN state', call: () => filledBuffer().add(episode({ state: withValue(new Float32Array(12), 4, NaN) })), error: RangeValueError, message: /TrajectoryBuffer\.add: carrot-on-plate#0 state\[4\] is NaN/ },
  { what: 'add an Infinity action', call: () => filledBuffer().add(episode({ action: withValue(new Float32Array(21), 20, Infinity) })), error: RangeValueError, message: /TrajectoryBuffer\.add: carrot-on-plate#0 action\[20\] is Infinity/ },
  { what: 'add a negative embodiment id', call: () => filledBuffer().add(episode({ embodimentId: -1 })), error: RangeValueError, message: /TrajectoryBuffer\.add: carrot-on-plate#0 embodimentId must be a non-negative integer, got -1/ },
  { what: 'sample batch 0', call: () => filledBuffer().sample(0, new Rng(1), { policy, normalization }), error: ArgumentError, message: /TrajectoryBuffer\.sample: batch must be a positive integer, got 0/ },
  { what: 'sample an empty buffer', call: () => new TrajectoryBuffer({ imageSize: { width: S, height: S } }).sample(2, new Rng(1), { policy, normalization }), error: RangeValueError, message: /TrajectoryBuffer\.sample: no transitions in the buffer/ },
  { what: 'sample a task the buffer lacks', call: () => filledBuffer().sample(2, new Rng(1), { policy, normalization, tasks: ['stack-cubes'] }), error: RangeValueError, message: /no transitions of task\(s\) stack-cubes/ },
  { what: 'sample for a policy of another image size', call: () => new TrajectoryBuffer({ imageSize: { width: 8, height: 8 } }).sample(2, new Rng(1), { policy, normalization }), error: ArgumentError, message: /TrajectoryBuffer\.sample: the buffer holds 8x8 frames but the policy takes 16x16/ },
  { what: 'sample with an Rng that is not one', call: () => filledBuffer().sample(2, {} as Rng, { policy, normalization }), error: ArgumentError, message: /TrajectoryBuffer\.sample: rng must be an Rng/ },
  { what: 'unknown shift preset', call: () => parseShift('camera+lightning'), error: ArgumentError, message: /unknown shift preset 'lightning'; valid presets: source, camera/ },
  { what: 'negative shift strength', call: () => parseShift('camera:-1'), error: RangeValueError, message: /shift term 'camera:-1': strength must be a finite number in \[0, 5\], got '-1'/ },
  { what: 'shift strength beyond the maximum', call: () => parseShift('distractors:1e9'), error: RangeValueError, message: /shift term 'distractors:1e9': strength must be a finite number in \[0, 5\], got '1e9'/ },
  { what: 'shift strength that is not a number', call: () => parseShift('friction:lots'), error: RangeValueError, message: /shift term 'friction:lots': strength must be a finite number/ },
  { what: 'shift naming a preset twice', call: () => parseShift('camera+camera:0.5'), error: ArgumentError, message: /names 'camera' twice/ },
  { what: 'shift with two embodiments', call: () => parseShift('finger-length+wrist-offset'), error: ArgumentError, message: /names two embodiments/ },
  { what: 'empty shift', call: () => parseShift(' '), error: ArgumentError, message: /shift is empty; valid presets/ },
];

function runRows(title: string, rows: Row[]): void {
  describe(title, () => {
    for (const row of rows) {
      it(row.what, () => {
        expectRowError(row);
      });
    }
  });
}

runRows('Policy.create and its config', createRows);
runRows('observations through pack (act, encode, ...)', packRows);
runRows('packed observation batches', batchRows);
runRows('act options, encode and predict', actRows);
runRows('training and prompt steps', trainRows);
runRows('prompts, parameters and optimizer state', paramRows);
runRows('checkpoints', checkpointRows);
runRows('normalization', normalizationRows);
runRows('policy controller', controllerRows);
runRows('adapter', adapterRows);
runRows('trajectory buffer and shifts', bufferRows);

// Asynchronous entry points: bad input must come back as a rejected promise (a caller awaiting it
// in a control loop gets the typed error), never as a synchronous throw.
const context = (n: number): PolicyContext => ({ episodes: Array.from({ length: n }, (_, i) => ({ task: 'carrot-on-plate', episodeIndex: i, configuration: 0, seed: i, step: 0 })) });
const envObservation = (): Observation => ({ ...observation(), state: Float32Array.from([0.1, -0.2, 0.3, 0.04]) }) as unknown as Observation;

const asyncRows: AsyncRow[] = [
  { what: 'actAsync with a wrong-size image', call: () => policy.actAsync([observation({ image: { width: 4, height: 4, data: new Uint8Array(48) } })]), error: ShapeError, message: /pack: observation 0 has a 4x4 image/ },
  { what: 'actAsync with a NaN state', call: () => policy.actAsync([observation({ state: [0, 0, NaN, 0] })]), error: RangeValueError, message: /pack: observation 0 state\[2\] is NaN/ },
  { what: 'actAsync with a packed text id out of vocabulary', call: () => policy.actAsync({ ...good, text: withValue(good.text, 1, 70) }), error: RangeValueError, message: /actAsync: text\[0, 1\] = 70 is outside the vocabulary/ },
  { what: 'actAsync with a packed embodiment out of range', call: () => policy.actAsync({ ...good, embodiment: Int32Array.from([3, 0]) }), error: RangeValueError, message: /actAsync: embodiment\[0\] = 3/ },
  { what: 'actAsync with NaN noise', call: () => policy.actAsync(good, { noise: new Float32Array(chunkLength).fill(NaN) }), error: RangeValueError, message: /actAsync: 'noise'\[0\] is NaN/ },
  { what: 'actAsync with batch 0', call: () => policy.actAsync({ ...good, batch: 0 }), error: RangeValueError, message: /actAsync: 'batch' = 0/ },
  { what: 'actAsync with no observations', call: () => policy.actAsync([]), error: ArgumentError, message: /pack: no observations/ },
  { what: 'encodeAsync with images as Float64Array', call: () => policy.encodeAsync({ ...good, images: new Float64Array(1) as unknown as Uint8Array }), error: DTypeError, message: /encodeAsync: 'images' must be a Uint8Array/ },
  { what: 'trainStepAsync with NaN actions', call: () => policy.trainStepAsync(trainBatch(new Float32Array(chunkLength).fill(NaN))), error: RangeValueError, message: /trainStepAsync: 'actions'\[0\] is NaN/ },
  { what: 'trainStepAsync with lr NaN', call: () => policy.trainStepAsync(trainBatch(goodActions), { lr: NaN }), error: RangeValueError, message: /trainStepAsync: 'lr' = nan/ },
  { what: 'trainStepAsync without a batch', call: () => policy.trainStepAsync(undefined as unknown as TrainingBatch), error: ArgumentError, message: /trainStepAsync: batch must be \{ observations, actions \}/ },
  { what: 'promptStepAsync with lr -1', call: () => policy.promptStepAsync(good, { lr: -1 }), error: RangeValueError, message: /promptStepAsync: 'lr' = -1/ },
  { what: 'promptStepAsync with a wrong state length', call: () => policy.promptStepAsync({ ...good, state: new Float32Array(3) }), error: ShapeError, message: /promptStepAsync: 'state' has 3 elements, expected batch \* state_dim = 8/ },
  { what: 'promptStepAsync on a baseline policy', call: () => baseline.promptStepAsync(good), error: UnsupportedError, message: /promptStepAsync: this policy has no latent prompt/ },
  { what: 'flowStepAsync with time NaN', call: () => policy.flowStepAsync(good, { ...targets(), actionTime: Float32Array.from([NaN, 0.5]) }), error: RangeValueError, message: /flowStepAsync: 'actionTime'\[0\] is NaN/ },
  { what: 'optimizePrompt lr 0', call: () => optimizePrompt(policy, normalization, filledBuffer(), { lr: 0, steps: 1, batch: 2 }), error: ArgumentError, message: /optimizePrompt: lr must be in \(0, 1\), got 0/ },
  { what: 'optimizePrompt lr NaN', call: () => optimizePrompt(policy, normalization, filledBuffer(), { lr: NaN, steps: 1, batch: 2 }), error: ArgumentError, message: /optimizePrompt: lr must be in \(0, 1\), got NaN/ },
  { what: 'optimizePrompt batch 0', call: () => optimizePrompt(policy, normalization, filledBuffer(), { batch: 0 }), error: ArgumentError, message: /optimizePrompt: batch must be a positive integer, got 0/ },
  { what: 'optimizePrompt negative seed', call: () => optimizePrompt(policy, normalization, filledBuffer(), { seed: -1 }), error: ArgumentError, message: /optimizePrompt: seed must be a non-negative safe integer, got -1/ },
  { what: 'optimizePrompt negative maxGradNorm', call: () => optimizePrompt(policy, normalization, filledBuffer(), { maxGradNorm: -1 }), error: ArgumentError, message: /optimizePrompt: maxGradNorm must be a finite number >= 0, got -1/ },
  { what: 'optimizePrompt on a baseline policy', call: () => optimizePrompt(baseline, normalization, filledBuffer(), { steps: 1 }), error: ArgumentError, message: /optimizePrompt: this policy has no latent prompt/ },
  { what: 'adapt with an empty buffer', call: () => new Adapter(policy, normalization).adapt(), error: ArgumentError, message: /Adapter\.adapt: the buffer is empty/ },
  { what: 'controller with fewer observations than episodes', call: async () => new PolicyController(policy, normalization).batchPolicy([envObservation()], context(2)), error: ArgumentError, message: /PolicyController: 1 observations for 2 episodes/ },
  { what: 'controller with a NaN state', call: async () => new PolicyController(policy, normalization).batchPolicy([{ ...envObservation(), state: Float32Array.from([NaN, 0, 0, 0]) }], context(1)), error: RangeValueError, message: /PolicyController: observation 0 state\[0\] is NaN/ },
  { what: 'environment with an unknown shift', call: () => TabletopEnv.create({ shift: 'fog' }), error: ArgumentError, message: /unknown shift preset 'fog'/ },
  { what: 'environment with controlHz 0', call: () => TabletopEnv.create({ controlHz: 0 }), error: ArgumentError, message: /controlHz must be a positive integer, got 0/ },
  { what: 'environment with physicsHz not a multiple of controlHz', call: () => TabletopEnv.create({ controlHz: 7, physicsHz: 500 }), error: ArgumentError, message: /physicsHz \(500\) must be a multiple of controlHz \(7\)/ },
  { what: 'environment with a negative shift seed', call: () => TabletopEnv.create({ shiftSeed: -1 }), error: ArgumentError, message: /shiftSeed must be a non-negative safe integer/ },
  { what: 'environment with jitter out of range', call: () => TabletopEnv.create({ jitter: { position: 1, yaw: 0 } }), error: RangeValueError, message: /jitter must have position in \[0, 0\.01\] m/ },
];

describe('asynchronous entry points reject with the typed error', () => {
  for (const row of asyncRows) {
    it(row.what, async () => {
      let pending: Promise<unknown> | undefined;
      expect(() => {
        pending = row.call();
      }, 'must not throw synchronously').not.toThrow();
      expect(pending).toBeInstanceOf(Promise);
      const caught = await pending!.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(caught, 'expected a rejection').toBeInstanceOf(row.error);
      expect((caught as Error).message).toMatch(row.message);
    });
  }
});

describe('the environment', () => {
  let env: TabletopEnv;
  beforeAll(async () => {
    env = await TabletopEnv.create({ images: false });
  });

  const envRows: Row[] = [
    { what: 'step before reset', call: () => env.step([0, 0, 0, 0, 0, 0, 1]), error: ArgumentError, message: /no episode: call reset\(\) first/ },
    { what: 'reset with an unknown task', call: () => env.reset({ task: 'juggle', configuration: 0, seed: 0 }), error: ArgumentError, message: /unknown task 'juggle'/ },
    { what: 'reset with configuration out of range', call: () => env.reset({ task: 'carrot-on-plate', configuration: 99, seed: 0 }), error: RangeValueError, message: /configuration must be an integer in \[0, 23\], got 99/ },
    { what: 'reset with a negative seed', call: () => env.reset({ task: 'carrot-on-plate', configuration: 0, seed: -5 }), error: ArgumentError, message: /seed must be a non-negative safe integer, got -5/ },
    {
      what: 'step with a NaN action',
      call: () => {
        env.reset({ task: 'carrot-on-plate', configuration: 0, seed: 0 });
        return env.step([0, 0, NaN, 0, 0, 0, 1]);
      },
      error: RangeValueError,
      message: /action\[2\] must be a finite number, got NaN/,
    },
    {
      what: 'step with a short action',
      call: () => {
        env.reset({ task: 'carrot-on-plate', configuration: 0, seed: 0 });
        return env.step([0, 0, 0]);
      },
      error: RangeValueError,
      message: /action must have 7 numbers/,
    },
  ];
  for (const row of envRows) {
    it(row.what, () => {
      expectRowError(row);
    });
  }
});

describe('after the table', () => {
  it('the policy still acts normally (no row left it broken or busy)', async () => {
    const a = policy.act(good, { seed: 3 });
    const b = await policy.actAsync(good, { seed: 3 });
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    for (const v of a.data) expect(Number.isFinite(v)).toBe(true);
  });

  it('rejected rows change nothing: parameters are as before a failed step', () => {
    const before = policy.getParams();
    expect(() => policy.trainStep(trainBatch(withValue(goodActions, 1, NaN)), { lr: 1e-2 })).toThrow(RangeValueError);
    expect(() => policy.setPrompt(0, withValue(policy.getPrompt(0) as Float32Array, 0, NaN))).toThrow(RangeValueError);
    expect(Array.from(policy.getParams())).toEqual(Array.from(before));
    expect(policy.optimizerStep).toBe(0);
  });
});
