import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import { sha256Hex } from '../../src/core/hash.js';
import { STAGES } from '../../src/stages/recipe.js';
import { REALDATA, runCli, tempDir, withDb } from '../helpers.js';

/** Every file under the run directory with its hash, to prove a failed run touched nothing. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(join(d, e.name), r);
      else if (!e.name.startsWith('.')) out[r] = sha256Hex(readFileSync(join(d, e.name)));
    }
  };
  walk(dir, '');
  return out;
}

describe('bad input through the CLI', () => {
  const dir = tempDir();
  const good = join(dir, 'wildchat.parquet');
  const head = (extra: string) => `name: bad\nrun_dir: ${join(dir, 'runs')}\nout_dir: ${join(dir, 'out')}\nsources:\n${extra}`;
  let before_: Record<string, string>;

  before(() => {
    copyFileSync(join(REALDATA, 'wildchat-1m-sample50.parquet'), good);
    writeFileSync(join(dir, 'good.yaml'), head(`  - {name: wildchat, type: wildchat, files: [${good}]}\n`));
    const r = runCli(['run', join(dir, 'good.yaml')]);
    assert.equal(r.status, 0, r.stderr);
    before_ = snapshot(join(dir, 'runs'));
    assert.ok(Object.keys(before_).some((f) => f.startsWith('08-shards/')));
  });

  const expectFailure = (yaml: string, status: number, patterns: RegExp[]) => {
    const file = join(dir, `case-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, yaml);
    const r = runCli(['run', file]);
    assert.equal(r.status, status, `exit ${r.status}\n${r.stderr}`);
    for (const p of patterns) assert.match(r.stderr, p);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(snapshot(join(dir, 'runs')), before_, 'earlier stage outputs must stay intact');
  };

  it('an unknown key in the pipeline file', () => {
    expectFailure(head(`  - {name: wildchat, type: wildchat, files: [${good}], langauge: English}\n`), 2, [
      /case-\w+\.yaml:5:\d+ sources\[0\]\.langauge: unknown key "langauge"; did you mean "language"\?/,
    ]);
  });

  it('a missing source file', () => {
    expectFailure(head(`  - {name: wildchat, type: wildchat, files: [${join(dir, 'nope.parquet')}]}\n`), 3, [
      /sources\[0\]\.files\[0\] \(wildchat\): file not found: .*nope\.parquet; fix the path in the pipeline file or create the file/,
    ]);
  });

  it('a parquet without a required column', async () => {
    const bad = join(dir, 'noconv.parquet');
    await withDb((db) => db.run(`COPY (SELECT conversation_hash, language FROM read_parquet(${sqlString(good)})) TO ${sqlString(bad)} (FORMAT parquet)`));
    expectFailure(head(`  - {name: wildchat, type: wildchat, files: [${bad}]}\n`), 3, [
      /noconv\.parquet: missing column "conversation"/,
      /use type: generic with a field mapping/,
    ]);
  });

  it('a file that is not Parquet at all', () => {
    const bad = join(dir, 'truncated.parquet');
    writeFileSync(bad, readFileSync(good).subarray(0, 5000));
    expectFailure(head(`  - {name: wildchat, type: wildchat, files: [${bad}]}\n`), 3, [
      /truncated\.parquet is not a readable Parquet file/,
      /re-download it or remove it from the pipeline's files/,
    ]);
  });

  it('a JSONL with a corrupt line', () => {
    const bad = join(dir, 'prism.jsonl');
    const line = (id: string) => JSON.stringify({ conversation_id: id, user_id: 'u', conversation_history: [{ turn: 0, role: 'user', content: 'q' }, { turn: 0, role: 'model', content: 'a', if_chosen: true }] });
    writeFileSync(bad, [line('c0'), line('c1'), '{"conversation_id": "c2", "user_id": ', line('c3')].join('\n') + '\n');
    expectFailure(head(`  - {name: wildchat, type: wildchat, files: [${good}]}\n  - {name: prism, type: prism, files: [${bad}], split: test_ood}\n`), 3, [
      /prism\.jsonl:3: not valid JSON/,
      /repair or delete that line, then rerun/,
    ]);
  });

  it('exits 0 and skips every stage when nothing changed', () => {
    const r = runCli(['run', join(dir, 'good.yaml')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((r.stderr.match(/up to date, skipped/g) ?? []).length, STAGES.length);
  });
});
