// The generated TypeScript op table and docs/ops.md must match the binary's registry.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { listOps, packageRoot } from '../lib/index.js';
// @ts-expect-error: a plain .mjs script without type declarations
import { renderOpDocs, renderOpTable } from '../scripts/gen-op-table.mjs';

describe('generated op table', () => {
  it('lib/ops/op-table.ts is current (run `npm run gen:ops` if not)', () => {
    const committed = readFileSync(join(packageRoot, 'lib/ops/op-table.ts'), 'utf8');
    expect(committed).toBe((renderOpTable as (o: unknown) => string)(listOps()));
  });
  it('docs/ops.md is current (run `npm run gen:ops` if not)', () => {
    const committed = readFileSync(join(packageRoot, 'docs/ops.md'), 'utf8');
    expect(committed).toBe((renderOpDocs as (o: unknown) => string)(listOps()));
  });
});
