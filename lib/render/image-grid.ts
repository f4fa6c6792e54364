/**
 * Tiles RGB images into one picture: filmstrips (a rollout's frames in a row) and contact
 * sheets (rows x columns, e.g. tasks x domain shifts), with padding, integer nearest-neighbor
 * upscaling so 64x64 frames are readable, and text labels in a small bitmap font.
 *
 * Layout (all in output pixels): an optional title line; an optional header line of column
 * labels; then each row of tiles, each tile with an optional label line above it, and an
 * optional row label to the left of the row (vertically centered). Tiles smaller than the
 * largest one are centered in their cell. Labels longer than their space are cut at the last
 * character that fits.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { contactSheet, encodePng, filmstrip } from 'vla-ttt';
 * const strip = filmstrip(frames, { scale: 2, labels: frames.map((_, t) => `t=${t}`) });
 * writeFileSync('rollout.png', encodePng(strip.data, strip.width, strip.height));
 * const sheet = contactSheet(imagesByTaskAndShift, { scale: 2, rowLabels: tasks, columnLabels: shifts });
 * ```
 */
import { drawText, glyphHeight, textWidth } from './bitmap-font.js';

/** An 8-bit RGB image, rows top to bottom, `width * height * 3` bytes. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export type Rgb = readonly [number, number, number];

export interface GridOptions {
  /** Tiles per row. Default: all in one row. */
  columns?: number;
  /** Integer upscaling of every tile (nearest neighbor). Default 1. */
  scale?: number;
  /** Pixels between tiles and around the edge. Default 4. */
  padding?: number;
  /** Default white. */
  background?: Rgb;
  /** Default black. */
  textColor?: Rgb;
  /** Integer size of a font pixel. Default 1 (a 5x7 glyph, 6 pixels per character). */
  fontScale?: number;
  /** One label per tile, drawn above it (undefined or '' for none). */
  labels?: readonly (string | undefined)[];
  /** One label per row, drawn to its left. */
  rowLabels?: readonly string[];
  /** One label per column, drawn above the first row. */
  columnLabels?: readonly string[];
  /** A line of text above everything. */
  title?: string;
}

function checkImage(image: RgbImage, where: string): void {
  if (!Number.isInteger(image.width) || !Number.isInteger(image.height) || image.width < 1 || image.height < 1) {
    throw new RangeError(`${where}: width and height must be positive integers, got ${image.width} x ${image.height}`);
  }
  if (image.data.length !== image.width * image.height * 3) {
    throw new RangeError(`${where}: data has ${image.data.length} bytes, expected width * height * 3 = ${image.width * image.height * 3}`);
  }
}

function positiveInt(value: number | undefined, fallback: number, name: string, min: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new RangeError(`tileImages: ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

/** Copies `src` into `dst` at (x, y), each pixel a scale x scale block. */
function blit(dst: RgbImage, src: RgbImage, x: number, y: number, scale: number): void {
  for (let sy = 0; sy < src.height; sy++) {
    for (let sx = 0; sx < src.width; sx++) {
      const pixel = src.data.subarray((sy * src.width + sx) * 3, (sy * src.width + sx) * 3 + 3);
      for (let ry = 0; ry < scale; ry++) {
        const row = (y + sy * scale + ry) * dst.width;
        for (let rx = 0; rx < scale; rx++) dst.data.set(pixel, (row + x + sx * scale + rx) * 3);
      }
    }
  }
}

/** Nearest-neighbor upscaling by an integer factor. */
export function upscale(image: RgbImage, scale: number): RgbImage {
  checkImage(image, 'upscale');
  if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`upscale: scale must be an integer >= 1, got ${scale}`);
  const out: RgbImage = { data: new Uint8Array(image.width * scale * image.height * scale * 3), width: image.width * scale, height: image.height * scale };
  blit(out, image, 0, 0, scale);
  return out;
}

/**
 * Tiles images row by row into a grid (see the module comment for the layout). A null entry
 * leaves its cell empty.
 */
export function tileImages(images: readonly (RgbImage | null)[], options: GridOptions = {}): RgbImage {
  images.forEach((im, i) => im && checkImage(im, `tileImages: images[${i}]`));
  const present = images.filter((im): im is RgbImage => im !== null);
  if (present.length === 0) throw new RangeError('tileImages: no images to tile');
  const columns = positiveInt(options.columns, images.length, 'columns', 1);
  const scale = positiveInt(options.scale, 1, 'scale', 1);
  const pad = positiveInt(options.padding, 4, 'padding', 0);
  const fontScale = positiveInt(options.fontScale, 1, 'fontScale', 1);
  const background = options.background ?? [255, 255, 255];
  const textColor = options.textColor ?? [0, 0, 0];
  const rows = Math.ceil(images.length / columns);
  if (options.labels && options.labels.length !== images.length) {
    throw new RangeError(`tileImages: ${options.labels.length} labels for ${images.length} images`);
  }
  if (options.rowLabels && options.rowLabels.length !== rows) {
    throw new RangeError(`tileImages: ${options.rowLabels.length} row labels for ${rows} rows`);
  }
  if (options.columnLabels && options.columnLabels.length !== columns) {
    throw new RangeError(`tileImages: ${options.columnLabels.length} column labels for ${columns} columns`);
  }

  const lineHeight = glyphHeight * fontScale;
  const cellW = Math.max(...present.map((im) => im.width)) * scale;
  const cellH = Math.max(...present.map((im) => im.height)) * scale;
  const tileLabelH = options.labels?.some((l) => l) ? lineHeight + 2 : 0;
  const rowLabelW = options.rowLabels ? Math.max(...options.rowLabels.map((l) => textWidth(l, fontScale))) + pad : 0;
  const titleH = options.title ? lineHeight + pad : 0;
  const headerH = options.columnLabels ? lineHeight + pad : 0;
  const rowH = tileLabelH + cellH + pad;

  const out: RgbImage = {
    width: pad + rowLabelW + columns * (cellW + pad),
    height: pad + titleH + headerH + rows * rowH,
    data: new Uint8Array(0),
  };
  out.data = new Uint8Array(out.width * out.height * 3);
  for (let i = 0; i < out.width * out.height; i++) out.data.set(background, i * 3);

  const gridLeft = pad + rowLabelW;
  const gridTop = pad + titleH + headerH;
  if (options.title) drawText(out, options.title, pad, pad, textColor, fontScale, out.width - 2 * pad);
  options.columnLabels?.forEach((label, c) => {
    drawText(out, label, gridLeft + c * (cellW + pad), pad + titleH, textColor, fontScale, cellW);
  });
  options.rowLabels?.forEach((label, r) => {
    const y = gridTop + r * rowH + tileLabelH + Math.floor((cellH - lineHeight) / 2);
    drawText(out, label, pad, y, textColor, fontScale, rowLabelW - pad);
  });
  images.forEach((im, i) => {
    const r = Math.floor(i / columns);
    const c = i % columns;
    const cellX = gridLeft + c * (cellW + pad);
    const cellY = gridTop + r * rowH;
    const label = options.labels?.[i];
    if (label) drawText(out, label, cellX, cellY, textColor, fontScale, cellW);
    if (!im) return;
    const x = cellX + Math.floor((cellW - im.width * scale) / 2);
    const y = cellY + tileLabelH + Math.floor((cellH - im.height * scale) / 2);
    blit(out, im, x, y, scale);
  });
  return out;
}

/** Frames side by side in one row (a rollout over time). */
export function filmstrip(frames: readonly RgbImage[], options: Omit<GridOptions, 'columns' | 'rowLabels'> = {}): RgbImage {
  return tileImages(frames, { ...options, columns: Math.max(1, frames.length) });
}

/**
 * A grid given as rows of images (e.g. tasks x domain shifts), all rows the same length; a row
 * or column label per row and column.
 */
export function contactSheet(grid: readonly (readonly (RgbImage | null)[])[], options: Omit<GridOptions, 'columns'> = {}): RgbImage {
  const columns = grid[0]?.length ?? 0;
  grid.forEach((row, r) => {
    if (row.length !== columns) throw new RangeError(`contactSheet: row ${r} has ${row.length} images, row 0 has ${columns}`);
  });
  return tileImages(grid.flat(), { ...options, columns: Math.max(1, columns) });
}
