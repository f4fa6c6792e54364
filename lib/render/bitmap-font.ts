/**
 * A small bitmap font for labels on image grids: printable ASCII in 5x7 cells (capitals, digits,
 * x-height 5 for lower case) plus 2 rows below the baseline for descenders (g j p q y , ;).
 * Drawn for this project. Characters outside printable ASCII are drawn as '?'.
 *
 * @example
 * ```ts
 * import { drawText, textWidth } from 'vla-ttt';
 * const image = { data: new Uint8Array(64 * 16 * 3), width: 64, height: 16 };
 * drawText(image, 'step 12', 2, 2, [255, 255, 0]); // yellow text, top-left corner at (2, 2)
 * textWidth('step 12', 2); // 82 pixels at font scale 2
 * ```
 */

/** Glyph width in font pixels. */
export const glyphWidth = 5;
/** Glyph height in font pixels: 7 above the baseline, 2 below. */
export const glyphHeight = 9;
/** Horizontal distance from one character to the next (one blank column between). */
export const glyphAdvance = 6;

// Each glyph: rows top to bottom separated by spaces, '#' set; 7 rows, or 9 with descenders.
const glyphSource: Record<string, string> = {
  ' ': '..... ..... ..... ..... ..... ..... .....',
  '!': '..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..',
  '"': '.#.#. .#.#. ..... ..... ..... ..... .....',
  '#': '.#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.',
  $: '..#.. .#### #.#.. .###. ..#.# ####. ..#..',
  '%': '##..# ##.#. ...#. ..#.. .#... .#.## #..##',
  '&': '.##.. #..#. #.#.. .#... #.#.# #..#. .##.#',
  "'": '..#.. ..#.. ..... ..... ..... ..... .....',
  '(': '...#. ..#.. .#... .#... .#... ..#.. ...#.',
  ')': '.#... ..#.. ...#. ...#. ...#. ..#.. .#...',
  '*': '..... ..#.. #.#.# .###. #.#.# ..#.. .....',
  '+': '..... ..#.. ..#.. ##### ..#.. ..#.. .....',
  ',': '..... ..... ..... ..... ..... .##.. .##.. ..#.. .#...',
  '-': '..... ..... ..... ##### ..... ..... .....',
  '.': '..... ..... ..... ..... ..... .##.. .##..',
  '/': '....# ....# ...#. ..#.. .#... #.... #....',
  '0': '.###. #...# #..## #.#.# ##..# #...# .###.',
  '1': '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
  '2': '.###. #...# ....# ...#. ..#.. .#... #####',
  '3': '####. ....# ....# .###. ....# ....# ####.',
  '4': '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
  '5': '##### #.... ####. ....# ....# #...# .###.',
  '6': '..##. .#... #.... ####. #...# #...# .###.',
  '7': '##### ....# ...#. ..#.. .#... .#... .#...',
  '8': '.###. #...# #...# .###. #...# #...# .###.',
  '9': '.###. #...# #...# .#### ....# ...#. .##..',
  ':': '..... .##.. .##.. ..... .##.. .##.. .....',
  ';': '..... .##.. .##.. ..... .##.. .##.. ..#.. .#... .....',
  '<': '...#. ..#.. .#... #.... .#... ..#.. ...#.',
  '=': '..... ..... ##### ..... ##### ..... .....',
  '>': '.#... ..#.. ...#. ....# ...#. ..#.. .#...',
  '?': '.###. #...# ....# ...#. ..#.. ..... ..#..',
  '@': '.###. #...# #.### #.#.# #.### #.... .####',
  A: '.###. #...# #...# ##### #...# #...# #...#',
  B: '####. #...# #...# ####. #...# #...# ####.',
  C: '.###. #...# #.... #.... #.... #...# .###.',
  D: '###.. #..#. #...# #...# #...# #..#. ###..',
  E: '##### #.... #.... ####. #.... #.... #####',
  F: '##### #.... #.... ####. #.... #.... #....',
  G: '.###. #...# #.... #.### #...# #...# .####',
  H: '#...# #...# #...# ##### #...# #...# #...#',
  I: '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  J: '..### ...#. ...#. ...#. ...#. #..#. .##..',
  K: '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
  L: '#.... #.... #.... #.... #.... #.... #####',
  M: '#...# ##.## #.#.# #.#.# #...# #...# #...#',
  N: '#...# #...# ##..# #.#.# #..## #...# #...#',
  O: '.###. #...# #...# #...# #...# #...# .###.',
  P: '####. #...# #...# ####. #.... #.... #....',
  Q: '.###. #...# #...# #...# #.#.# #..#. .##.#',
  R: '####. #...# #...# ####. #.#.. #..#. #...#',
  S: '.#### #.... #.... .###. ....# ....# ####.',
  T: '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  U: '#...# #...# #...# #...# #...# #...# .###.',
  V: '#...# #...# #...# #...# #...# .#.#. ..#..',
  W: '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
  X: '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
  Y: '#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..',
  Z: '##### ....# ...#. ..#.. .#... #.... #####',
  '[': '.###. .#... .#... .#... .#... .#... .###.',
  '\\': '#.... #.... .#... ..#.. ...#. ....# ....#',
  ']': '.###. ...#. ...#. ...#. ...#. ...#. .###.',
  '^': '..#.. .#.#. #...# ..... ..... ..... .....',
  _: '..... ..... ..... ..... ..... ..... #####',
  '`': '.#... ..#.. ..... ..... ..... ..... .....',
  a: '..... ..... .###. ....# .#### #...# .####',
  b: '#.... #.... #.##. ##..# #...# #...# ####.',
  c: '..... ..... .###. #.... #.... #...# .###.',
  d: '....# ....# .##.# #..## #...# #...# .####',
  e: '..... ..... .###. #...# ##### #.... .###.',
  f: '..##. .#..# .#... ###.. .#... .#... .#...',
  g: '..... ..... .#### #...# #...# #...# .#### ....# .###.',
  h: '#.... #.... #.##. ##..# #...# #...# #...#',
  i: '..#.. ..... .##.. ..#.. ..#.. ..#.. .###.',
  j: '...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..',
  k: '#.... #.... #..#. #.#.. ##... #.#.. #..#.',
  l: '.##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  m: '..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#',
  n: '..... ..... #.##. ##..# #...# #...# #...#',
  o: '..... ..... .###. #...# #...# #...# .###.',
  p: '..... ..... ####. #...# #...# #...# ####. #.... #....',
  q: '..... ..... .#### #...# #...# #...# .#### ....# ....#',
  r: '..... ..... #.##. ##..# #.... #.... #....',
  s: '..... ..... .#### #.... .###. ....# ####.',
  t: '.#... .#... ###.. .#... .#... .#..# ..##.',
  u: '..... ..... #...# #...# #...# #..## .##.#',
  v: '..... ..... #...# #...# #...# .#.#. ..#..',
  w: '..... ..... #...# #...# #.#.# #.#.# .#.#.',
  x: '..... ..... #...# .#.#. ..#.. .#.#. #...#',
  y: '..... ..... #...# #...# #...# #...# .#### ....# .###.',
  z: '..... ..... ##### ...#. ..#.. .#... #####',
  '{': '...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.',
  '|': '..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  '}': '.#... ..#.. ..#.. ...#. ..#.. ..#.. .#...',
  '~': '..... ..... .#... #.#.# ...#. ..... .....',
};

/** Glyph bitmaps: glyphHeight rows per character, bit 4 = leftmost column. */
const glyphs: Map<string, Uint8Array> = new Map(
  Object.entries(glyphSource).map(([ch, src]) => {
    const rows = src.split(' ');
    if ((rows.length !== 7 && rows.length !== glyphHeight) || rows.some((r) => r.length !== glyphWidth)) {
      throw new Error(`bitmap-font: glyph '${ch}' is malformed`);
    }
    const bits = new Uint8Array(glyphHeight);
    rows.forEach((r, y) => {
      for (let x = 0; x < glyphWidth; x++) if (r[x] === '#') bits[y]! |= 1 << (glyphWidth - 1 - x);
    });
    return [ch, bits];
  }),
);

/** The bitmap of one character ('?' for characters the font lacks). */
export function glyph(ch: string): Uint8Array {
  return glyphs.get(ch) ?? glyphs.get('?')!;
}

/** Width in pixels of `text` drawn at integer `scale` (no trailing gap). */
export function textWidth(text: string, scale = 1): number {
  return text.length === 0 ? 0 : (text.length * glyphAdvance - 1) * scale;
}

/** An RGB image to draw on: rows top to bottom, 3 bytes per pixel. */
export interface TextTarget {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Draws `text` with its top-left corner at (x, y), each font pixel a scale x scale block.
 * Characters that would cross `maxWidth` pixels from x are left out, as is anything outside the
 * image. Returns the width drawn.
 */
export function drawText(
  target: TextTarget,
  text: string,
  x: number,
  y: number,
  color: readonly [number, number, number],
  scale = 1,
  maxWidth = Infinity,
): number {
  let drawn = 0;
  for (let i = 0; i < text.length; i++) {
    const left = i * glyphAdvance * scale;
    if (left + glyphWidth * scale > maxWidth) break;
    const bits = glyph(text[i]!);
    for (let gy = 0; gy < glyphHeight; gy++) {
      const row = bits[gy]!;
      if (row === 0) continue;
      for (let gx = 0; gx < glyphWidth; gx++) {
        if (!(row & (1 << (glyphWidth - 1 - gx)))) continue;
        for (let sy = 0; sy < scale; sy++) {
          const py = y + gy * scale + sy;
          if (py < 0 || py >= target.height) continue;
          for (let sx = 0; sx < scale; sx++) {
            const px = x + left + gx * scale + sx;
            if (px < 0 || px >= target.width) continue;
            target.data.set(color, (py * target.width + px) * 3);
          }
        }
      }
    }
    drawn = left + glyphWidth * scale;
  }
  return drawn;
}
