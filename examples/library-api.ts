/**
 * The library API in one file: load a checkpoint, act in a control loop, adapt the latent
 * prompt on the robot's own trajectories, save. The "robot" here is the simulated tabletop under
 * a camera shift, so the file runs as it is (after `npm install`, from the repository root):
 *
 *   npx tsc -p examples && node examples/dist/library-api.js
 *
 * README's "Library API" section shows the same calls.
 */
import { Adapter, Normalization, Policy, TabletopEnv, getTask, type PolicyObservation } from 'vla-ttt';

const policy = Policy.load('models/tabletop-small.safetensors');
const norm = Normalization.fromJSON(policy.metadata['normalization']!, 'checkpoint');
const adapter = new Adapter(policy, norm, { steps: 20, batch: 32 });
const task = getTask('carrot-on-plate');
const env = await TabletopEnv.create({ shift: 'camera' });

for (let episode = 0; episode < 2; episode++) {
  let o = env.reset({ task: task.name, configuration: episode, seed: episode });
  for (let done = false; !done; ) {
    const obs: PolicyObservation = { image: o.image, instruction: o.instruction, state: o.state, embodimentId: o.embodimentId };
    const chunk = await adapter.act([obs], { seed: episode }); // [1, H, 7]: delta xyz, delta rpy, gripper
    const action = chunk.action(0, 0);
    adapter.record(`episode-${episode}`, obs, action);
    const r = env.step(action);
    o = r.observation;
    done = r.done;
  }
  adapter.endEpisode(`episode-${episode}`, { success: env.outcome().success, task: task.name });
}
const report = await adapter.adapt({ onProgress: (p) => p.step % 10 === 0 && console.log(`prompt step ${p.step}: loss ${p.loss.toFixed(3)}`) });
adapter.swapIfReady(); // a control loop gets this at its next act()
policy.save('runs/adapted.safetensors', { normalization: policy.metadata['normalization']! });
console.log(`adapted on ${report.transitions} transitions; saved runs/adapted.safetensors`);
env.dispose();
