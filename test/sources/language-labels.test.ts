import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SourceError } from '../../src/core/errors.js';
import { checkLanguageLabels } from '../../src/sources/check-language-labels.js';
import { resolveSourceFiles } from '../../src/sources/resolve-files.js';
import { ROOT, tempDir, withDb, writePipeline } from '../helpers.js';

const FIX = join(ROOT, 'test', 'fixtures', 'corpora');

/** The language check run() does before any stage, on a pipeline of the given sources. */
async function check(dir: string, sources: string, languages = '[de]'): Promise<string | null> {
  const { pipeline } = writePipeline(dir, `name: t\nrun_dir: ${join(dir, 'runs')}\nsources:\n${sources}\nstages: {filter: {languages: ${languages}}}\n`);
  const p = pipeline();
  return withDb(async (db) => {
    try {
      await checkLanguageLabels(db, p, (s, i) => resolveSourceFiles(db, s, i, { runDir: p.config.run_dir, cacheDir: join(dir, 'hub') }));
      return null;
    } catch (e) {
      assert.ok(e instanceof SourceError, String(e));
      return e.message;
    }
  });
}

describe('the language-mismatch guard counts conversations per label', () => {
  it('a source with language: and no language field shows its label with the number of conversations, not 1', async () => {
    const dir = tempDir();
    const msg = await check(dir, `  - {name: m, type: generic, preset: openai, files: [${join(FIX, 'multilingual-no-labels.jsonl')}], language: en}`);
    assert.match(msg ?? '', /sources\[0\] \(m\) has no conversation in stages\.filter\.languages \[de\]; its language labels: en 8\./);
  });

  it('labels of a field and the language: fallback for rows without one add up under one label', async () => {
    const dir = tempDir();
    const f = join(dir, 'mixed.jsonl');
    const row = (id: number, lang?: string) => JSON.stringify({ id, ...(lang ? { lang } : {}), messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] });
    writeFileSync(f, [row(1, 'fr'), row(2), row(3, 'en'), row(4), row(5, 'fr'), row(6, 'fr'), row(7)].join('\n') + '\n');
    const msg = await check(dir, `  - {name: x, type: generic, files: [${f}], fields: {id: id, messages: messages, role: role, content: content, language: lang}, language: en}`);
    assert.match(msg ?? '', /its language labels: en 4, fr 3\./);
  });

  it('a Parquet corpus and a CSV one are counted per row as well', async () => {
    const dir = tempDir();
    const csv = join(dir, 'chats.csv');
    writeFileSync(csv, 'id,lang,messages\n' + [1, 2, 3].map((i) => `${i},${i === 2 ? 'it' : 'en'},"[{""role"": ""user"", ""content"": ""q""}, {""role"": ""assistant"", ""content"": ""a""}]"`).join('\n') + '\n');
    const pq = join(dir, 'lmsys.parquet');
    await withDb((db) => db.run(`COPY (SELECT * FROM read_json('${join(FIX, 'lmsys-chat-1m.jsonl')}')) TO '${pq}' (FORMAT parquet)`));
    const msg = await check(dir, `  - {name: c, type: generic, files: [${csv}], fields: {id: id, messages: messages, role: role, content: content, language: lang}}`);
    assert.match(msg ?? '', /sources\[0\] \(c\) .*its language labels: en 2, it 1\./);
    const lm = await check(dir, `  - {name: lm, type: generic, preset: lmsys, files: [${pq}]}`, '[fr]');
    assert.match(lm ?? '', /its language labels: English 3, German 1\./);
  });

  it('a source that detects its languages is not checked before the run (its labels exist only after normalize)', async () => {
    const dir = tempDir();
    assert.equal(await check(dir, `  - {name: m, type: generic, preset: openai, files: [${join(FIX, 'multilingual-no-labels.jsonl')}], language: detect}`), null);
  });

  it('a source with no language field and no language: says so', async () => {
    const dir = tempDir();
    const msg = await check(dir, `  - {name: m, type: generic, preset: openai, files: [${join(FIX, 'multilingual-no-labels.jsonl')}]}`, '[English]');
    assert.match(msg ?? '', /its language labels: \(no language field and no language: option\)\..*sources\[0\]\.language .*detect/);
  });
});
