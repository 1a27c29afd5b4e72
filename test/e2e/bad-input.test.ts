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
    assert.ok(Object.keys(before_).some((f) => f.startsWith('shards/')));
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

  it('a Parquet file whose footer is intact but whose pages are corrupt', () => {
    const bad = join(dir, 'corrupt.parquet');
    const bytes = readFileSync(good);
    // Scramble the middle of the file (data pages), keep the footer readable.
    for (let i = Math.floor(bytes.length * 0.3); i < Math.floor(bytes.length * 0.5); i++) bytes[i] = (bytes[i]! * 7 + 13) & 255;
    writeFileSync(bad, bytes);
    expectFailure(head(`  - {name: wildchat, type: wildchat, files: [${bad}]}\n`), 3, [
      /sources\[0\] \(wildchat\): cannot read .*corrupt\.parquet: /,
      /re-download it or remove it from sources\[0\]\.files, then rerun/,
    ]);
  });

  it('a Parquet file with the wrong column types', async () => {
    const bad = join(dir, 'mistyped.parquet');
    await withDb((db) =>
      db.run(`COPY (SELECT * REPLACE (CAST(toxic AS VARCHAR) AS toxic, 42 AS language, CAST(timestamp AS VARCHAR) AS timestamp) FROM read_parquet(${sqlString(good)})) TO ${sqlString(bad)} (FORMAT parquet)`),
    );
    expectFailure(head(`  - {name: wildchat, type: wildchat, files: [${bad}]}\n`), 3, [
      /mistyped\.parquet: column "timestamp" has type VARCHAR, expected TIMESTAMP\|DATE; column "language" has type INTEGER, expected VARCHAR; column "toxic" has type VARCHAR, expected BOOLEAN\./,
      /convert them to the expected type, or leave them out of the file/,
    ]);
  });

  it('a Parquet string that is not valid UTF-8', async () => {
    const bad = join(dir, 'latin1.parquet');
    await withDb((db) =>
      db.run(
        `COPY (SELECT * REPLACE ([{'role': 'user', 'content': 'QZQZQZ caf'}, {'role': 'assistant', 'content': 'ok'}] AS conversation) FROM read_parquet(${sqlString(good)}) LIMIT 3)
         TO ${sqlString(bad)} (FORMAT parquet, COMPRESSION uncompressed)`,
      ),
    );
    // DuckDB writes valid UTF-8 only: plant a Latin-1 byte by editing the uncompressed pages.
    const bytes = readFileSync(bad);
    let planted = 0;
    for (let i = bytes.indexOf('QZQZQZ'); i !== -1; i = bytes.indexOf('QZQZQZ', i + 1)) {
      bytes[i] = 0xe9;
      planted++;
    }
    assert.ok(planted > 0);
    writeFileSync(bad, bytes);
    expectFailure(head(`  - {name: wildchat, type: wildchat, files: [${bad}]}\n`), 3, [
      /sources\[0\] \(wildchat\): cannot read .*latin1\.parquet: .*not valid UTF8/,
      /re-download it or remove it from sources\[0\]\.files/,
    ]);
  });

  it('a JSONL line that is not valid UTF-8 (never decoded to U+FFFD in silence)', () => {
    const bad = join(dir, 'latin1.jsonl');
    const ok = JSON.stringify({ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] });
    writeFileSync(bad, Buffer.concat([Buffer.from(`${ok}\n${ok}\n{"messages": [{"role": "user", "content": "caf`), Buffer.from([0xe9]), Buffer.from(`"}]}\n`)]));
    expectFailure(head(`  - {name: wildchat, type: wildchat, files: [${good}]}\n  - {name: logs, type: generic, preset: openai, files: [${bad}], language: English}\n`), 3, [
      /latin1\.jsonl:3: not valid UTF-8 \(byte 47 of the line\) in sources\[1\] \(logs\)/,
      /re-encode it as UTF-8 \(e\.g\. iconv -f latin1 -t utf-8\), or repair or delete that line, then rerun/,
    ]);
  });

  it('a JSONL line with a raw NUL byte inside a string', () => {
    const bad = join(dir, 'nul.jsonl');
    writeFileSync(bad, `{"messages": [{"role": "user", "content": "a\u0000b"}]}\n`);
    expectFailure(head(`  - {name: wildchat, type: wildchat, files: [${good}]}\n  - {name: logs, type: generic, preset: openai, files: [${bad}], language: English}\n`), 3, [
      /nul\.jsonl:1: not valid JSON \(Bad control character in string literal/,
    ]);
  });

  it('exits 0 and skips every stage when nothing changed', () => {
    const r = runCli(['run', join(dir, 'good.yaml')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((r.stderr.match(/up to date, skipped/g) ?? []).length, STAGES.length);
  });
});
