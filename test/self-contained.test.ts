import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from './helpers.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** A path into the shared folder beside the repository, in any of the spellings a path join allows. */
const SHARED_PATH = /\.\.\/shared\b|['"]\.\.['"],\s*['"]shared['"]|shared\/realdata|['"]realdata['"]/;

describe('a fresh clone is enough', () => {
  it('no test, bench or source reads the shared folder beside the repository', () => {
    // make test must pass on a clone with nothing beside it: real rows live in test/fixtures/.
    const offenders = ['src', 'test', 'datasets']
      .flatMap((d) => sources(join(ROOT, d)))
      .filter((f) => !f.endsWith('self-contained.test.ts'))
      .filter((f) => SHARED_PATH.test(readFileSync(f, 'utf8').replace(/\/\/.*$/gm, '')));
    assert.deepEqual(offenders, []);
  });
});
