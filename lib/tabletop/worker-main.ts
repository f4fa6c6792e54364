/**
 * Entry point of an environment worker thread: one MuJoCo instance (loaded here, never shared)
 * and a few environment slots, driven in rounds by the rollout coordinator (rollout.ts).
 *
 * With native images, each round ends with one batched render of every environment of this
 * worker that needs an action: the live scenes (no allocation) are packed into the renderer's
 * reused buffers and drawn into one new array, which is transferred (not copied) to the
 * coordinator with the observations' images as views into it.
 */
import { parentPort } from 'node:worker_threads';

import { taskProgress } from '../evolve/task-progress.js';
import { TabletopEnv, type PrivilegedState } from './env.js';
import { ScriptedExpert } from './expert.js';
import { ObservationRenderer } from './observation-images.js';
import type { InitRequest, RoundRequest, SlotResult, WorkerImages, WorkerRequest, WorkerResponse } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('worker-main.ts must run in a worker thread');

let envs: TabletopEnv[] = [];
let experts: (ScriptedExpert | undefined)[] = [];
let expertNoise = 1;
let images: WorkerImages = { kind: 'none' };
let renderer: ObservationRenderer | undefined;
let withProgress = false;
/** Each slot's first privileged state of its episode (task progress is relative to it). */
let starts: (PrivilegedState | undefined)[] = [];

function post(msg: WorkerResponse, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

async function init(req: InitRequest): Promise<void> {
  envs = [];
  // The environments draw nothing themselves: this worker draws them all at once.
  for (let i = 0; i < req.slots; i++) envs.push(await TabletopEnv.create({ ...req.env, images: false }));
  experts = envs.map(() => undefined);
  expertNoise = req.expertNoise;
  withProgress = req.progress;
  starts = envs.map(() => undefined);
  images = req.images;
  renderer = images.kind === 'native' ? new ObservationRenderer({ width: images.width, height: images.height }, { threadPool: images.threadPool }) : undefined;
  post({ type: 'ready' });
}

function round(req: RoundRequest): void {
  const results: SlotResult[] = [];
  // Results whose observation needs an image (every one that is not the episode's end).
  const needImage: { result: SlotResult; env: TabletopEnv }[] = [];
  for (const item of req.items) {
    const env = envs[item.slot];
    if (!env) throw Object.assign(new Error(`no environment slot ${item.slot}`), { slot: item.slot });
    try {
      if (item.reset) {
        const observation = env.reset({ task: item.reset.task, configuration: item.reset.configuration, seed: item.reset.seed });
        experts[item.slot] = new ScriptedExpert(item.reset.seed, { noise: expertNoise });
        const result: SlotResult = { slot: item.slot, observation, done: false, distractors: env.distractorsPlaced };
        if (withProgress) {
          const start = env.privileged();
          starts[item.slot] = start;
          result.progress = taskProgress(start, start);
        }
        results.push(result);
        needImage.push({ result, env });
      } else if (item.finish) {
        const result: SlotResult = { slot: item.slot, done: true, outcome: env.outcome() };
        if (withProgress) result.progress = taskProgress(env.privileged(), starts[item.slot]!);
        results.push(result);
      } else {
        const action = item.action ?? experts[item.slot]!.act(env.privileged());
        const r = env.step(action);
        const result: SlotResult = { slot: item.slot, observation: r.observation, action: r.info.action, info: r.info, done: r.done, ...(r.done ? { outcome: env.outcome() } : {}) };
        if (withProgress) result.progress = taskProgress(env.privileged(), starts[item.slot]!);
        results.push(result);
        if (!r.done) needImage.push({ result, env });
      }
    } catch (e) {
      throw Object.assign(e instanceof Error ? e : new Error(String(e)), { slot: item.slot });
    }
  }
  if (images.kind === 'scenes') {
    // postMessage copies the live scenes before the next round overwrites them.
    for (const { result, env } of needImage) result.scene = env.liveScene();
  } else if (renderer && needImage.length > 0) {
    const pixels = renderer.render(needImage.map(({ env }) => env.liveScene()));
    renderer.split(pixels, needImage.length).forEach((image, i) => (needImage[i]!.result.observation!.image = image));
    post({ type: 'round', results }, [pixels.buffer as ArrayBuffer]);
    return;
  }
  post({ type: 'round', results });
}

port.on('message', (msg: WorkerRequest) => {
  const run = async (): Promise<void> => {
    if (msg.type === 'init') await init(msg);
    else round(msg);
  };
  run().catch((e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    const slot = (err as Error & { slot?: number }).slot;
    post({ type: 'error', slot: typeof slot === 'number' ? slot : null, message: err.message, name: err.name });
  });
});
