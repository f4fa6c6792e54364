// Image grids: filmstrip and contact-sheet layout (sizes, where each upscaled tile lands) and
// labels drawn with the bitmap font.
import { describe, expect, it } from 'vitest';

import {
  contactSheet,
  drawText,
  filmstrip,
  glyph,
  glyphAdvance,
  glyphHeight,
  glyphWidth,
  textWidth,
  tileImages,
  upscale,
  type RgbImage,
} from '../lib/index.js';

/** A w x h image whose pixel (x, y) is (tag, x * 16 + y, 7) so every pixel is identifiable. */
function tagged(tag: number, w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([tag, x * 16 + y, 7], (y * w + x) * 3);
  return { data, width: w, height: h };
}

function px(im: RgbImage, x: number, y: number): number[] {
  const i = (y * im.width + x) * 3;
  return [im.data[i]!, im.data[i + 1]!, im.data[i + 2]!];
}

/** Checks that `tile`, upscaled by `scale`, sits at (x0, y0) in `sheet`. */
function expectTileAt(sheet: RgbImage, tile: RgbImage, x0: number, y0: number, scale: number): void {
  for (let y = 0; y < tile.height * scale; y++) {
    for (let x = 0; x < tile.width * scale; x++) {
      expect(px(sheet, x0 + x, y0 + y)).toEqual(px(tile, Math.floor(x / scale), Math.floor(y / scale)));
    }
  }
}

/** The set pixels of `text` drawn alone at scale 1, as "x,y" strings relative to its corner. */
function textMask(text: string): Set<string> {
  const w = Math.max(1, textWidth(text));
  const canvas: RgbImage = { data: new Uint8Array(w * glyphHeight * 3), width: w, height: glyphHeight };
  drawText(canvas, text, 0, 0, [255, 255, 255]);
  const set = new Set<string>();
  for (let y = 0; y < glyphHeight; y++) for (let x = 0; x < w; x++) if (px(canvas, x, y)[0] === 255) set.add(`${x},${y}`);
  return set;
}

/** Whether `sheet` shows exactly `text`'s mask in `color` at (x0, y0) (and background around it). */
function expectTextAt(sheet: RgbImage, text: string, x0: number, y0: number, color: number[]): void {
  const mask = textMask(text);
  expect(mask.size).toBeGreaterThan(0);
  for (let y = 0; y < glyphHeight; y++) {
    for (let x = 0; x < textWidth(text); x++) {
      const isSet = px(sheet, x0 + x, y0 + y).every((v, c) => v === color[c]);
      expect(isSet).toBe(mask.has(`${x},${y}`));
    }
  }
}

describe('bitmap font', () => {
  it('has a distinct glyph for every printable ASCII character', () => {
    const seen = new Map<string, string>();
    for (let code = 33; code < 127; code++) {
      const ch = String.fromCharCode(code);
      const key = Array.from(glyph(ch)).join(',');
      expect(seen.get(key), `'${ch}' looks like '${seen.get(key)}'`).toBeUndefined();
      seen.set(key, ch);
      expect(glyph(ch).length).toBe(glyphHeight);
      expect(Array.from(glyph(ch)).some((row) => row !== 0)).toBe(true);
    }
    expect(Array.from(glyph(' ')).every((row) => row === 0)).toBe(true);
    expect(glyph('é')).toBe(glyph('?'));
  });

  it('draws glyph pixels at the scale asked, cut at maxWidth', () => {
    const canvas: RgbImage = { data: new Uint8Array(30 * 20 * 3), width: 30, height: 20 };
    const drawn = drawText(canvas, 'H', 1, 1, [9, 8, 7], 2);
    expect(drawn).toBe(glyphWidth * 2);
    // 'H': columns 0 and 4 on every row of 7, the bar on row 3.
    for (let gy = 0; gy < 7; gy++) {
      for (let gx = 0; gx < glyphWidth; gx++) {
        const on = gx === 0 || gx === 4 || gy === 3;
        for (const [sx, sy] of [[0, 0], [1, 1]]) {
          expect(px(canvas, 1 + gx * 2 + sx!, 1 + gy * 2 + sy!)).toEqual(on ? [9, 8, 7] : [0, 0, 0]);
        }
      }
    }
    const clipped: RgbImage = { data: new Uint8Array(40 * 9 * 3), width: 40, height: 9 };
    expect(drawText(clipped, 'ABC', 0, 0, [255, 255, 255], 1, 10)).toBe(5);
    for (let y = 0; y < 9; y++) for (let x = 5; x < 40; x++) expect(px(clipped, x, y)).toEqual([0, 0, 0]);
    expect(textWidth('ABC', 2)).toBe((3 * glyphAdvance - 1) * 2);
  });
});

describe('image grids', () => {
  it('lays a filmstrip out in one row, upscaled', () => {
    const frames = [tagged(1, 4, 3), tagged(2, 4, 3), tagged(3, 4, 3)];
    const strip = filmstrip(frames, { scale: 2, padding: 1, background: [50, 60, 70] });
    expect([strip.width, strip.height]).toEqual([1 + 3 * (8 + 1), 1 + 6 + 1]);
    frames.forEach((f, i) => expectTileAt(strip, f, 1 + i * 9, 1, 2));
    expect(px(strip, 0, 0)).toEqual([50, 60, 70]);
    expect(px(strip, 9, 4)).toEqual([50, 60, 70]); // the gap between tiles 0 and 1
  });

  it('lays a labeled contact sheet out in rows and columns', () => {
    const grid = [
      [tagged(1, 4, 4), tagged(2, 4, 4), tagged(3, 4, 4)],
      [tagged(4, 4, 4), null, tagged(6, 4, 4)],
    ];
    const pad = 2;
    const sheet = contactSheet(grid, {
      scale: 3,
      padding: pad,
      title: 'Tasks',
      rowLabels: ['ab', 'c'],
      columnLabels: ['x', 'y', 'z'],
      labels: ['t0', '', 't2', 't3', undefined, 't5'],
      background: [255, 255, 255],
      textColor: [0, 0, 0],
    });
    const line = glyphHeight;
    const rowLabelW = textWidth('ab') + pad;
    const titleH = line + pad;
    const headerH = line + pad;
    const tileLabelH = line + 2;
    const cell = 12;
    const rowH = tileLabelH + cell + pad;
    expect(sheet.width).toBe(pad + rowLabelW + 3 * (cell + pad));
    expect(sheet.height).toBe(pad + titleH + headerH + 2 * rowH);
    const gridLeft = pad + rowLabelW;
    const gridTop = pad + titleH + headerH;
    grid.forEach((row, r) =>
      row.forEach((im, c) => {
        const x = gridLeft + c * (cell + pad);
        const y = gridTop + r * rowH + tileLabelH;
        if (im) expectTileAt(sheet, im, x, y, 3);
        else expect(px(sheet, x + 5, y + 5)).toEqual([255, 255, 255]);
      }),
    );
    const black = [0, 0, 0];
    expectTextAt(sheet, 'Tasks', pad, pad, black);
    ['x', 'y', 'z'].forEach((label, c) => expectTextAt(sheet, label, gridLeft + c * (cell + pad), pad + titleH, black));
    expectTextAt(sheet, 'ab', pad, gridTop + tileLabelH + Math.floor((cell - line) / 2), black);
    expectTextAt(sheet, 'c', pad, gridTop + rowH + tileLabelH + Math.floor((cell - line) / 2), black);
    expectTextAt(sheet, 't0', gridLeft, gridTop, black);
    expectTextAt(sheet, 't5', gridLeft + 2 * (cell + pad), gridTop + rowH, black);
  });

  it('centers smaller tiles and cuts long labels to the tile width', () => {
    const sheet = tileImages([tagged(1, 6, 6), tagged(2, 2, 2), tagged(3, 6, 6)], { padding: 0, labels: ['a very long label', 'b', ''] });
    const tileLabelH = glyphHeight + 2;
    expectTileAt(sheet, tagged(2, 2, 2), 6 + 2, tileLabelH + 2, 1);
    // Only 'a' fits in the 6-pixel cell; uncut, the label's 'v' would land over the third cell.
    expectTextAt(sheet, 'a', 0, 0, [0, 0, 0]);
    expectTextAt(sheet, 'b', 6, 0, [0, 0, 0]);
    for (let y = 0; y < tileLabelH; y++) for (let x = 12; x < 18; x++) expect(px(sheet, x, y)).toEqual([255, 255, 255]);
  });

  it('upscales by an integer factor', () => {
    const im = tagged(5, 3, 2);
    const big = upscale(im, 4);
    expect([big.width, big.height]).toEqual([12, 8]);
    expectTileAt(big, im, 0, 0, 4);
  });

  it('rejects inconsistent input', () => {
    expect(() => contactSheet([[tagged(1, 2, 2)], [tagged(1, 2, 2), tagged(1, 2, 2)]])).toThrow(/row 1 has 2 images, row 0 has 1/);
    expect(() => tileImages([tagged(1, 2, 2)], { labels: ['a', 'b'] })).toThrow(/2 labels for 1 images/);
    expect(() => tileImages([{ data: new Uint8Array(5), width: 2, height: 2 }])).toThrow(/data has 5 bytes/);
    expect(() => tileImages([tagged(1, 2, 2)], { scale: 1.5 })).toThrow(/scale must be an integer/);
    expect(() => tileImages([null])).toThrow(/no images/);
  });
});
