/** Small scenes for the renderer tests. */
import { buildGeoms, type Scene } from '../../lib/index.js';

/** A red sphere on a gray checkered plane seen from above and in front, with shadows. */
export function sphereOnPlane(camera: Partial<Scene['camera']> = {}): Scene {
  return {
    geoms: buildGeoms([
      { type: 'plane', size: [0, 0], pos: [0, 0, 0], rgba: [0.7, 0.7, 0.7, 1], texture: 'checker', texScale: 0.1, texColor: [0.3, 0.3, 0.3] },
      { type: 'sphere', size: [0.1], pos: [0, 0, 0.1], rgba: [0.9, 0.1, 0.1, 1] },
      { type: 'box', size: [0.05, 0.05, 0.05], pos: [0.25, 0.1, 0.05], rgba: [0.1, 0.3, 0.9, 1] },
    ]),
    camera: { pos: [0, -1, 0.8], lookAt: [0, 0, 0.1], up: [0, 0, 1], fovyDeg: 45, ...camera },
    lighting: { direction: [0.3, -0.4, 1], color: [0.8, 0.8, 0.8], ambient: [0.2, 0.2, 0.2], shadows: true },
    background: [0.4, 0.5, 0.7],
  };
}

/** The pixel at (x, y) of an RGB image of the given width. */
export function pixelAt(rgb: Uint8Array, width: number, x: number, y: number): [number, number, number] {
  const i = (y * width + x) * 3;
  return [rgb[i]!, rgb[i + 1]!, rgb[i + 2]!];
}
