/**
 * A strict structural check of an HTML document, for generated reports: every element that is
 * not void is closed, in order; attribute values are quoted; raw-text elements (style, script)
 * are skipped to their end tag. Returns the problems found (empty: the document parses cleanly).
 * Stricter than browsers on purpose: a generator that relies on error recovery is a bug.
 */
const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);
const RAW_TEXT = new Set(['style', 'script']);

export function htmlProblems(html: string): string[] {
  const problems: string[] = [];
  const open: string[] = [];
  let pos = 0;
  const line = (at: number) => html.slice(0, at).split('\n').length;
  if (!/^<!DOCTYPE html>/i.test(html)) problems.push('no <!DOCTYPE html> at the start');
  while (pos < html.length) {
    const lt = html.indexOf('<', pos);
    if (lt < 0) break;
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      if (end < 0) return [...problems, `unterminated comment at line ${line(lt)}`];
      pos = end + 3;
      continue;
    }
    if (/^<!doctype/i.test(html.slice(lt, lt + 9))) {
      pos = html.indexOf('>', lt) + 1;
      continue;
    }
    const gt = html.indexOf('>', lt);
    if (gt < 0) return [...problems, `unterminated tag at line ${line(lt)}`];
    const tag = html.slice(lt, gt + 1);
    const close = /^<\/([a-zA-Z][a-zA-Z0-9-]*)\s*>$/.exec(tag);
    if (close) {
      const name = close[1]!.toLowerCase();
      const top = open.pop();
      if (top !== name) problems.push(`line ${line(lt)}: </${name}> closes <${top ?? 'nothing'}>`);
      pos = gt + 1;
      continue;
    }
    const start = /^<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:="[^"<]*"|='[^'<]*')?)*)\s*(\/?)>$/s.exec(tag);
    if (!start) {
      problems.push(`line ${line(lt)}: not a well-formed tag (or a stray '<'): ${tag.slice(0, 60)}`);
      pos = lt + 1;
      continue;
    }
    const name = start[1]!.toLowerCase();
    pos = gt + 1;
    if (VOID.has(name) || start[3] === '/') continue;
    if (RAW_TEXT.has(name)) {
      const end = html.toLowerCase().indexOf(`</${name}>`, pos);
      if (end < 0) return [...problems, `<${name}> at line ${line(lt)} is never closed`];
      pos = end + name.length + 3;
      continue;
    }
    open.push(name);
  }
  if (open.length > 0) problems.push(`unclosed elements at the end: ${open.join(' > ')}`);
  return problems;
}
