// The demonstration dataset: a round trip, and clear errors for every kind of damage.
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DatasetFormatError, DatasetReader, DatasetWriter, decodeEpisode, encodeEpisode, type DatasetMeta, type DemoEpisode } from '../lib/tabletop/dataset.js';
import { Rng } from '../lib/util/random.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'vla-ttt-dataset-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function episode(index: number, steps: number, image: { width: number; height: number } | null): DemoEpisode {
  const rng = new Rng(index);
  return {
    task: 'carrot-on-plate',
    instruction: 'put the carrot on the plate',
    episodeIndex: index,
    configuration: index % 24,
    seed: 1000 + index,
    embodimentId: 0,
    success: index % 2 === 0,
    stageSuccess: [index % 2 === 0],
    state: Float32Array.from({ length: steps * 4 }, () => rng.normal()),
    action: Float32Array.from({ length: steps * 7 }, () => rng.uniform(-1, 1)),
    image: image ? Uint8Array.from({ length: steps * image.width * image.height * 3 }, () => rng.int(256)) : null,
  };
}

const meta = (image: { width: number; height: number } | null): DatasetMeta => ({ tasks: ['carrot-on-plate'], shift: 'source', shiftSeed: 0, seed: 1, embodimentId: 0, controlHz: 5, image });

async function writeDataset(name: string, image: { width: number; height: number } | null, episodes: DemoEpisode[]): Promise<string> {
  const dir = join(root, name);
  const w = await DatasetWriter.create(dir, meta(image));
  for (const e of episodes) await w.append(e);
  await w.close();
  return dir;
}

describe('dataset', () => {
  it('round-trips episodes with and without images', async () => {
    const image = { width: 5, height: 3 };
    const eps = [episode(0, 7, image), episode(1, 60, image), episode(2, 1, image)];
    const dir = await writeDataset('with-images', image, eps);
    const r = await DatasetReader.open(dir);
    expect(r.count).toBe(3);
    expect(r.manifest.image).toEqual(image);
    expect(r.manifest.actionLayout).toEqual(['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'gripper']);
    for (let i = 0; i < 3; i++) {
      const e = await r.readEpisode(i);
      expect(e.state).toEqual(eps[i]!.state);
      expect(e.action).toEqual(eps[i]!.action);
      expect(e.image).toEqual(eps[i]!.image);
      expect(e.header).toMatchObject({ task: 'carrot-on-plate', instruction: 'put the carrot on the plate', episodeIndex: i, seed: 1000 + i, success: i % 2 === 0, steps: eps[i]!.state.length / 4 });
    }
    const plain = await DatasetReader.open(await writeDataset('no-images', null, [episode(3, 4, null)]));
    expect(plain.manifest.image).toBeNull();
    expect((await plain.readEpisode(0)).image).toBeNull();
    await expect(plain.readEpisode(1)).rejects.toThrow(/episode index must be in \[0, 0\], got 1/);
  });

  it('refuses to write into a non-empty folder or mix image and no-image episodes', async () => {
    const dir = await writeDataset('full', null, [episode(0, 2, null)]);
    await expect(DatasetWriter.create(dir, meta(null))).rejects.toThrow(/is not empty/);
    const w = await DatasetWriter.create(join(root, 'mixed'), meta(null));
    await expect(w.append(episode(0, 2, { width: 2, height: 2 }))).rejects.toThrow(/image bytes do not make 2 frames|has images but the dataset is declared without/);
  });

  it('names truncated, corrupted and foreign files', async () => {
    const dir = await writeDataset('damaged', null, [episode(0, 10, null), episode(1, 10, null), episode(2, 10, null)]);
    const file = (i: number): string => join(dir, 'episodes', `${String(i).padStart(6, '0')}.ep`);
    // Truncated: shorter than the manifest says.
    const size = (await readFile(file(0))).length;
    await truncate(file(0), size - 9);
    const r = await DatasetReader.open(dir);
    await expect(r.readEpisode(0)).rejects.toThrow(DatasetFormatError);
    await expect(r.readEpisode(0)).rejects.toThrow(new RegExp(`000000\\.ep: ${size - 9} bytes, the manifest says ${size} \\(truncated or replaced\\)`));
    // One flipped bit in the data: the checksum catches it.
    const bytes = await readFile(file(1));
    bytes[bytes.length - 5]! ^= 0x10;
    await writeFile(file(1), bytes);
    await expect(r.readEpisode(1)).rejects.toThrow(/000001\.ep: checksum mismatch/);
    // Not an episode file at all.
    const foreign = new Uint8Array((await readFile(file(2))).length);
    await writeFile(file(2), foreign);
    await expect(r.readEpisode(2)).rejects.toThrow(/not an episode file \(magic is not VLATTEP1\)/);
  });

  it('decodes only consistent bytes', () => {
    const bytes = encodeEpisode(episode(0, 3, null), null);
    expect(decodeEpisode(bytes, 'x').state.length).toBe(12);
    expect(() => decodeEpisode(bytes.subarray(0, 10), 'x')).toThrow(/x: truncated: 10 bytes/);
    expect(() => decodeEpisode(bytes.subarray(0, 40), 'x')).toThrow(/x: truncated: the header needs/);
    expect(() => decodeEpisode(bytes.subarray(0, bytes.length - 8), 'x')).toThrow(/x: truncated: array 'action' ends at byte/);
    const padded = new Uint8Array(bytes.length + 8);
    padded.set(bytes);
    expect(() => decodeEpisode(padded, 'x')).toThrow(/8 unexpected trailing bytes/);
    // A header that is JSON but lies about the shapes.
    const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
    const header = new TextDecoder().decode(bytes.subarray(12, 12 + headerLength));
    const lying = bytes.slice();
    lying.set(new TextEncoder().encode(header.replace('"steps":3', '"steps":4')), 12);
    expect(() => decodeEpisode(lying, 'x')).toThrow(/array 'state' has dtype float32 and shape \[3, 4\], which do not fit 4 steps/);
  });

  it('explains a missing or broken manifest', async () => {
    const dir = join(root, 'unfinished');
    const w = await DatasetWriter.create(dir, meta(null));
    await w.append(episode(0, 2, null));
    await expect(DatasetReader.open(dir)).rejects.toThrow(/has no manifest\.json: the collection did not finish \(1 episode files present\)/);
    await expect(DatasetReader.open(join(root, 'nowhere'))).rejects.toThrow(/is not a dataset folder \(no manifest\.json\)/);
    await w.close();
    const manifest = join(dir, 'manifest.json');
    const good = await readFile(manifest, 'utf8');
    await writeFile(manifest, good.slice(0, 50));
    await expect(DatasetReader.open(dir)).rejects.toThrow(/manifest\.json is not valid JSON/);
    await writeFile(manifest, good.replace('"version": 1', '"version": 2'));
    await expect(DatasetReader.open(dir)).rejects.toThrow(/bad manifest, version: /);
    await writeFile(manifest, good.replace('"episodes/000000.ep"', '"../../etc/passwd"'));
    await expect(DatasetReader.open(dir)).rejects.toThrow(/bad manifest, episodes\.0\.file/);
  });
});
