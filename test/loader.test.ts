// The loader finds the built binary, and when nothing loads its error lists every attempt and
// says what to do.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { AddonLoadError, buildInfo, loadAddon } from '../lib/index.js';

describe('native addon loader', () => {
  it('loads the binary of this checkout', () => {
    const { addon, path } = loadAddon();
    expect(path).toMatch(/\.node$/);
    expect(addon.buildInfo().version).toBe('0.1.0');
    expect(buildInfo().addonPath).toBe(path);
  });

  it('lists every attempt when nothing loads', () => {
    const root = mkdtempSync(join(tmpdir(), 'vla-ttt-loader-'));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'vla-ttt' }));
    mkdirSync(join(root, 'build', 'Release'), { recursive: true });
    writeFileSync(join(root, 'build', 'Release', 'vla_ttt.node'), 'not an ELF file');
    const prebuilds = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
    mkdirSync(prebuilds, { recursive: true });
    writeFileSync(join(prebuilds, 'node.napi.node'), 'garbage');
    const saved = process.env['VLA_TTT_ADDON_PATH'];
    process.env['VLA_TTT_ADDON_PATH'] = join(root, 'missing.node');
    try {
      loadAddon(root);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(AddonLoadError);
      const err = e as AddonLoadError;
      expect(err.attempts.map((a) => a.source)).toEqual([
        `VLA_TTT_ADDON_PATH=${join(root, 'missing.node')}`,
        join(root, 'build', 'Release', 'vla_ttt.node'),
        join(prebuilds, 'node.napi.node'),
      ]);
      expect(err.message).toMatch(/Tried:\n  1\. VLA_TTT_ADDON_PATH=/);
      expect(err.message).toMatch(/npm rebuild vla-ttt/);
      expect(err.code).toBe('VLA_ADDON_LOAD');
    } finally {
      if (saved === undefined) delete process.env['VLA_TTT_ADDON_PATH'];
      else process.env['VLA_TTT_ADDON_PATH'] = saved;
    }
  });

  it('reports node-gyp-build finding nothing', () => {
    const root = mkdtempSync(join(tmpdir(), 'vla-ttt-empty-'));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'vla-ttt' }));
    expect(() => loadAddon(root)).toThrow(/No native build was found/);
  });
});
