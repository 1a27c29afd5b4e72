import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { runPipeline } from '../../src/core/runner.js';
import { DETECT_CHARS, LANGUAGE_DETECTOR, loadLanguageDetector } from '../../src/sources/detect-language.js';
import { filterStage } from '../../src/stages/filter/filter-stage.js';
import { lookupLanguage } from '../../src/stages/filter/language-aliases.js';
import { normalizeStage } from '../../src/stages/normalize/normalize-stage.js';
import { REALDATA, ROOT, tempDir, withDb, writePipeline } from '../helpers.js';

const FIX = join(ROOT, 'test', 'fixtures', 'corpora');

async function normalizeAndFilter(dir: string, sources: string, filter: string) {
  const { pipeline } = writePipeline(dir, `name: t\nrun_dir: ${join(dir, 'runs')}\nmax_drop_fraction: 1\nsources:\n${sources}\nstages: {filter: ${filter}}\n`);
  const r = await runPipeline(pipeline(), [normalizeStage, filterStage], { log: silentLogger });
  const rows = (stage: string) =>
    withDb((db) => db.all<{ conversation_id: string; language: string | null }>(`SELECT conversation_id, language FROM read_parquet(${sqlString(join(dir, 'runs', stage, 'data.parquet'))}) ORDER BY 1`));
  return { normalize: r.markers[0]!, filter: r.markers[1]!, normalized: await rows('normalize'), kept: await rows('filter') };
}

describe('language: detect', () => {
  it('labels a corpus with no language field; an English filter keeps the English conversations and drops the rest with a reason', async () => {
    const dir = tempDir();
    const r = await normalizeAndFilter(dir, `  - {name: m, type: generic, preset: openai, files: [${join(FIX, 'multilingual-no-labels.jsonl')}], language: detect}`, '{languages: [English]}');
    const id = (row: number) => `m:multilingual-no-labels.jsonl#${row}`;
    assert.deepEqual(
      r.normalized.map((x) => [x.conversation_id, x.language]),
      [[id(0), 'en'], [id(1), 'de'], [id(2), 'en'], [id(3), 'es'], [id(4), 'fr'], [id(5), 'zh'], [id(6), 'en'], [id(7), null]],
    );
    assert.deepEqual(r.kept.map((x) => x.conversation_id), [id(0), id(2), id(6)]);
    assert.deepEqual(r.filter.drops, { language: 4, language_unknown: 1 });
    assert.deepEqual((r.normalize.notes as { languages_detected: unknown }).languages_detected, {
      m: { labels: { en: 3, de: 1, es: 1, fr: 1, zh: 1 }, undetected: 1 },
    });
  });

  it("replaces a corpus's own labels, and codes match the names in languages:", async () => {
    const dir = tempDir();
    const src = join(FIX, 'allenai-wildchat-v1.jsonl');
    const r = await normalizeAndFilter(dir, `  - {name: w, type: wildchat, files: [${src}], language: detect}`, '{languages: [Spanish], drop_toxic: false}');
    const own = readFileSync(src, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { language: string });
    assert.deepEqual(r.normalized.map((x) => lookupLanguage(x.language ?? '')?.name), own.map((o) => o.language), 'the fixture\'s rows are plain enough for the detector to agree');
    assert.ok(r.normalized.every((x) => x.language !== null && x.language.length === 2), 'ISO 639-1 codes, not the corpus\'s names');
    assert.deepEqual(r.kept.length, own.filter((o) => o.language === 'Spanish').length);
  });

  it('agrees with WildChat\'s own labels on 48 of the 50 real rows (the figure the README states)', async () => {
    const detect = await loadLanguageDetector();
    const rows = readFileSync(join(REALDATA, 'wildchat-1m-sample50.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { language: string; conversation: { role: string; content: string }[] });
    let same = 0;
    let englishOrNot = 0;
    for (const r of rows) {
      const text = r.conversation.filter((m) => m.role === 'user').map((m) => m.content).join('\n').slice(0, DETECT_CHARS);
      const name = lookupLanguage(detect(text) ?? '')?.name ?? '';
      if (name.startsWith(r.language)) same++;
      if ((name === 'English') === (r.language === 'English')) englishOrNot++;
    }
    assert.equal(rows.length, 50);
    assert.equal(same, 48);
    assert.equal(englishOrNot, 48);
  });

  it('names no language for text without letters', async () => {
    const detect = await loadLanguageDetector();
    for (const t of ['', '12345 678', '???', '😀😀']) assert.equal(detect(t), null, JSON.stringify(t));
    assert.equal(detect('Could you help me plan a three day trip to the mountains?'), 'en');
  });

  it('the detector named in the normalize options is the one installed', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'eld', 'package.json'), 'utf8')) as { version: string };
    const lock = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.equal(LANGUAGE_DETECTOR, `eld ${pkg.version} medium`);
    assert.equal(lock.dependencies['eld'], pkg.version, 'pinned exactly, so the labels cannot change under a rerun');
  });
});
