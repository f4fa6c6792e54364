/**
 * A tiny MJCF (MuJoCo XML) writer: elements as plain objects, attributes formatted the way
 * MuJoCo reads them (numbers with enough digits, arrays space-separated). The tabletop world is
 * generated from TypeScript with it, so every dimension lives in one place (robot.ts,
 * objects.ts) instead of in a hand-written XML file.
 */

export type AttrValue = string | number | boolean | readonly number[];

export interface XmlElement {
  tag: string;
  attrs?: Record<string, AttrValue | undefined>;
  children?: XmlElement[];
}

/** An element; undefined attributes are left out. */
export function el(tag: string, attrs: Record<string, AttrValue | undefined> = {}, children: XmlElement[] = []): XmlElement {
  return { tag, attrs, children };
}

function formatNumber(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`MJCF attribute value must be finite, got ${x}`);
  // 6 significant digits are well below MuJoCo's float tolerances for sizes and positions.
  const s = Number(x.toPrecision(7)).toString();
  return s === '-0' ? '0' : s;
}

function formatValue(v: AttrValue): string {
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return v.map(formatNumber).join(' ');
}

/** Serializes an element tree to indented XML text. */
export function toXml(root: XmlElement, indent = ''): string {
  const attrs = Object.entries(root.attrs ?? {})
    .filter((entry): entry is [string, AttrValue] => entry[1] !== undefined)
    .map(([k, v]) => ` ${k}="${formatValue(v)}"`)
    .join('');
  const children = root.children ?? [];
  if (children.length === 0) return `${indent}<${root.tag}${attrs}/>`;
  const inner = children.map((c) => toXml(c, indent + '  ')).join('\n');
  return `${indent}<${root.tag}${attrs}>\n${inner}\n${indent}</${root.tag}>`;
}
