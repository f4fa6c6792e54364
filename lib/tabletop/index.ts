/**
 * The tabletop benchmark: a MuJoCo (WASM) world where policies are trained, adapted and
 * judged; the analogue of SimplerEnv's WidowX tasks and LIBERO's long-horizon suite.
 *
 * Architecture (one file per concept):
 *   world.ts       MJCF generation (mjcf.ts, robot.ts, objects.ts) and the compiled MuJoCo world
 *   tasks.ts       tasks, instructions, 24 configurations each; layout.ts places objects
 *   shifts.ts      domain shifts (visual, dynamics, embodiments.ts)
 *   actions.ts     the 7-d action convention; env.ts the environment; metrics.ts success checks
 *   scene-extract.ts  MuJoCo state -> the renderer's Scene (lib/render/scene.ts)
 *   observation-images.ts  the image size (64x64 by default) and batched native drawing
 *   pictures.ts    contact sheets and rollout frames for people (vla-ttt render)
 *   expert.ts      the scripted expert
 *   rollout.ts     parallel rollouts on worker threads (worker-main.ts, worker-protocol.ts)
 *   eval.ts        the evaluation protocol and paired comparisons; dataset.ts demonstrations
 *
 * @example
 * ```ts
 * import { evaluate } from 'vla-ttt';
 * const report = await evaluate({ policy: 'expert', tasks: ['carrot-on-plate'], episodesPerTask: 24, seed: 0 });
 * console.log(report.tasks['carrot-on-plate'].rate, report.tasks['carrot-on-plate'].ci95);
 * ```
 */
export { ACTION_DIM, ACTION_HIGH, ACTION_LOW, GRIPPER_CLOSED, GRIPPER_OPEN, MAX_ROTATION, MAX_TRANSLATION, clipAction } from './actions.js';
export type { Action } from './actions.js';
export { TabletopEnv, WORKSPACE, TARGET_LEASH, MAX_TILT } from './env.js';
export type { EnvOptions, EpisodeSpec, Observation, PrivilegedState, RgbImage, StepInfo, StepResult } from './env.js';
export { EMBODIMENT_IDS, SOURCE_EMBODIMENT, makeEmbodiment } from './embodiments.js';
export type { Embodiment, EmbodimentName } from './embodiments.js';
export { CONFIGURATIONS_PER_TASK, DEFAULT_EPISODE_CAPS, SUITES, TASK_NAMES, episodeCap, getTask, parseTaskList, tasksInSuite } from './tasks.js';
export type { Configuration, EpisodeCaps, Placement, Relation, Stage, Suite, TaskSpec } from './tasks.js';
export { OBJECTS, OBJECT_KINDS } from './objects.js';
export type { ObjectInstance, ObjectKind, ObjectSpec } from './objects.js';
export { MAX_SHIFT_STRENGTH, SHIFT_PRESETS, SOURCE_SHIFT, STANDALONE_PRESETS, embodimentIdOf, isUnannounced, parseShift, resolveDomain } from './shifts.js';
export type { Domain, Shift, ShiftComponent, ShiftPreset } from './shifts.js';
export type { EpisodeOutcome, StageOutcome } from './metrics.js';
export { SceneTemplate, extractScene } from './scene-extract.js';
export { DEFAULT_IMAGE_SIZE, MAX_IMAGE_SIDE, ObservationRenderer, checkImageSize, nativeBatchRenderer } from './observation-images.js';
export type { ImageSize } from './observation-images.js';
export { episodePlan, expertRollout, policyRollout, startFrames } from './pictures.js';
export type { ExpertRollout, PictureOptions } from './pictures.js';
export { ScriptedExpert } from './expert.js';
export type { ExpertOptions } from './expert.js';
export { RolloutWorkerError, defaultWorkers, planEpisodes, runRollouts } from './rollout.js';
export type { BatchPolicy, BatchRenderer, EpisodePlan, EpisodeResult, ImageRendering, PolicyContext, RolloutOptions, RolloutResult, Transition } from './rollout.js';
export { comparePaired, evaluate, flipRow } from './eval.js';
export type { EpisodeRecord, EvalOptions, EvalReport, FlipRow, PairedComparison, TaskPartial, TaskReport } from './eval.js';
export { DatasetFormatError, DatasetReader, DatasetWriter } from './dataset.js';
export type { DatasetMeta, DecodedEpisode, DemoEpisode, EpisodeHeader, Manifest } from './dataset.js';
export { mcnemarExact, wilsonInterval } from '../util/stats.js';
export { Rng, deriveSeed } from '../util/random.js';
export { EpisodeRecorder } from './episode-recorder.js';
