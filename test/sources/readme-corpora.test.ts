import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { parsePipeline } from '../../src/config/load-pipeline.js';
import { sqlString } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { runPipeline } from '../../src/core/runner.js';
import { checkLanguageLabels } from '../../src/sources/check-language-labels.js';
import { resolveSourceFiles } from '../../src/sources/resolve-files.js';
import { filterStage } from '../../src/stages/filter/filter-stage.js';
import { normalizeStage } from '../../src/stages/normalize/normalize-stage.js';
import { REALDATA, ROOT, tempDir, withDb } from '../helpers.js';

const FIX = join(ROOT, 'test', 'fixtures', 'corpora');

/** The ```yaml blocks of README's "Bring your own corpus" section. */
function readmeBlocks(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Bring your own corpus\n');
  assert.ok(start >= 0, 'README has the section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** What each file name in the README's blocks stands for here: a fixture in that corpus's schema. */
async function fixtureFor(file: string, dir: string): Promise<string> {
  switch (file) {
    case 'data/train-*.parquet':
      return join(REALDATA, 'wildchat-1m-sample50.parquet');
    case 'lmsys-chat-1m/data/*.parquet': {
      const pq = join(dir, 'lmsys.parquet');
      await withDb((db) => db.run(`COPY (SELECT * FROM read_json(${sqlString(join(FIX, 'lmsys-chat-1m.jsonl'))})) TO ${sqlString(pq)} (FORMAT parquet)`));
      return pq;
    }
    case 'sharegpt_20230401_clean.json':
      return join(FIX, 'sharegpt-chunks.json');
    case '2023-04-12_oasst_ready.trees.jsonl.gz':
      return join(FIX, 'oasst-trees.jsonl.gz');
    case 'chats.jsonl':
      return join(FIX, 'openai-messages.jsonl');
    case 'export.jsonl':
      return join(FIX, 'custom-mapping.jsonl');
  }
  throw new Error(`README names ${file}, which this test has no fixture for: add one to test/fixtures/corpora/ and to fixtureFor`);
}

interface Outcome {
  kept: number;
  drops: Record<string, number>;
  notes: Record<string, unknown>;
  rows: { conversation_id: string; user_key: string | null; language: string | null }[];
}

/** A README block with its files swapped for fixtures, run as `run` would: the language check, then normalize and filter under the block's own guards. */
async function runBlock(yaml: string): Promise<{ name: string; out: Outcome }> {
  const dir = tempDir();
  const doc = parse(yaml) as { name: string; run_dir?: string; sources: { files: string[] }[] };
  for (const s of doc.sources) s.files = await Promise.all(s.files.map((f) => fixtureFor(f, dir)));
  doc.run_dir = join(dir, 'runs');
  const p = parsePipeline(stringify(doc), join(dir, 'pipeline.yaml'));
  await withDb((db) => checkLanguageLabels(db, p, (s, i) => resolveSourceFiles(db, s, i, { runDir: p.config.run_dir, cacheDir: join(dir, 'hub') })));
  const r = await runPipeline(p, [normalizeStage, filterStage], { log: silentLogger });
  const filter = r.markers[1]!;
  const rows = await withDb((db) =>
    db.all<Outcome['rows'][number]>(`SELECT conversation_id, user_key, language FROM read_parquet(${sqlString(join(dir, 'runs', 'filter', 'data.parquet'))}) ORDER BY 1`),
  );
  return { name: doc.name, out: { kept: filter.conversations_out, drops: filter.drops, notes: r.markers[0]!.notes as Record<string, unknown>, rows } };
}

describe("README's Bring your own corpus blocks", () => {
  const blocks = readmeBlocks();

  it('are one complete pipeline file per preset plus the field mapping, each valid', () => {
    assert.equal(blocks.length, 6);
    const names = blocks.map((b) => parsePipeline(b, 'README.md').config.name);
    assert.deepEqual(names, ['wildchat', 'lmsys', 'sharegpt', 'oasst', 'openai', 'custom']);
  });

  it('each runs on a fixture in its corpus\'s schema and keeps conversations, every drop with a reason', async () => {
    const got: Record<string, Outcome> = {};
    for (const b of blocks) {
      const { name, out } = await runBlock(b);
      got[name] = out;
    }
    assert.deepEqual(Object.fromEntries(Object.entries(got).map(([n, o]) => [n, [o.kept, o.drops]])), {
      wildchat: [30, { empty_user_turn: 1, language: 19 }],
      lmsys: [2, { language: 1, redacted: 1 }],
      sharegpt: [4, { consecutive_roles: 1, empty_conversation: 1, unknown_role: 1 }],
      oasst: [1, { language: 1 }],
      openai: [3, {}],
      custom: [2, { language: 1, toxic: 1 }],
    });
    assert.ok(got['sharegpt']!.rows.every((r) => r.language === 'en'), 'detected');
    assert.deepEqual(got['custom']!.rows.map((r) => [r.conversation_id, r.user_key]), [['custom:t-100_0', 'custom|ann'], ['custom:t-100_1', 'custom|ann']]);
  });
});
