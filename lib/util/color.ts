/**
 * Colors. The scene contract (lib/render/scene.ts) takes LINEAR RGB in [0, 1]; people think in
 * sRGB hex codes. `srgbHex` converts once, where a color is defined.
 */

export type Rgb = [number, number, number];
export type Rgba = [number, number, number, number];

/** sRGB transfer function inverse: an sRGB component in [0, 1] to linear light. */
export function srgbToLinear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
}

/** Linear RGBA of an sRGB hex code such as '#e8731c' (alpha 1 unless given). */
export function srgbHex(hex: string, alpha = 1): Rgba {
  const m = /^#([0-9a-fA-F]{6})$/.exec(hex);
  if (!m) throw new Error(`not an sRGB hex color: ${hex}`);
  const v = parseInt(m[1]!, 16);
  return [srgbToLinear(((v >> 16) & 255) / 255), srgbToLinear(((v >> 8) & 255) / 255), srgbToLinear((v & 255) / 255), alpha];
}

/** Linear blend a*(1-t) + b*t of two RGB colors. */
export function mixRgb(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}
