/**
 * Entry point of an environment worker thread: one MuJoCo instance (loaded here, never shared)
 * and a few environment slots, driven in rounds by the rollout coordinator (rollout.ts).
 */
import { parentPort } from 'node:worker_threads';

import { TabletopEnv } from './env.js';
import { ScriptedExpert } from './expert.js';
import type { InitRequest, RoundRequest, SlotResult, WorkerRequest, WorkerResponse } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('worker-main.ts must run in a worker thread');

let envs: TabletopEnv[] = [];
let experts: (ScriptedExpert | undefined)[] = [];
let expertNoise = 1;
let withScenes = false;

function post(msg: WorkerResponse): void {
  port!.postMessage(msg);
}

async function init(req: InitRequest): Promise<void> {
  envs = [];
  for (let i = 0; i < req.slots; i++) envs.push(await TabletopEnv.create(req.env));
  experts = envs.map(() => undefined);
  expertNoise = req.expertNoise;
  withScenes = req.scenes;
  post({ type: 'ready' });
}

function round(req: RoundRequest): void {
  const results: SlotResult[] = [];
  for (const item of req.items) {
    const env = envs[item.slot];
    if (!env) throw Object.assign(new Error(`no environment slot ${item.slot}`), { slot: item.slot });
    try {
      if (item.reset) {
        const observation = env.reset({ task: item.reset.task, configuration: item.reset.configuration, seed: item.reset.seed });
        experts[item.slot] = new ScriptedExpert(item.reset.seed, { noise: expertNoise });
        results.push({ slot: item.slot, observation, done: false, distractors: env.distractorsPlaced, ...(withScenes ? { scene: env.scene() } : {}) });
      } else {
        const action = item.action ?? experts[item.slot]!.act(env.privileged());
        const r = env.step(action);
        results.push({
          slot: item.slot,
          observation: r.observation,
          action: r.info.action,
          info: r.info,
          done: r.done,
          ...(r.done ? { outcome: env.outcome() } : {}),
          ...(withScenes && !r.done ? { scene: env.scene() } : {}),
        });
      }
    } catch (e) {
      throw Object.assign(e instanceof Error ? e : new Error(String(e)), { slot: item.slot });
    }
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
