import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { collectReportData } from '../../src/report/collect-report-data.js';
import { buildDataset, STAGES } from '../../src/stages/recipe.js';
import { tempDir, withDb, writePipeline } from '../helpers.js';

const long = (word: string, n: number) => Array.from({ length: n }, (_, i) => `${word}${i}`).join(' ');

/** Three conversations sized against a 300-token window. */
function corpus(dir: string): string {
  const file = join(dir, 'chats.jsonl');
  const conv = (turns: [string, string][]) => ({ messages: turns.flatMap(([u, a]) => [{ role: 'user', content: u }, { role: 'assistant', content: a }]) });
  writeFileSync(
    file,
    [
      conv([['short question?', 'short answer.']]),
      // One user turn that cannot fit even alone: both of its samples overflow.
      conv([[long('huge', 400), 'ok.']]),
      // Fits turn by turn, but the whole history does not.
      conv([[long('first', 60), long('reply', 60)], [long('second', 20), 'fine.'], ['third?', 'done.']]),
    ]
      .map((x) => JSON.stringify(x))
      .join('\n') + '\n',
  );
  return file;
}

function pipelineYaml(dir: string, file: string, overflow: string): string {
  return `name: tok
run_dir: ${join(dir, 'runs')}
out_dir: ${join(dir, 'out')}
sources:
  - {name: c, type: generic, preset: openai, files: [${file}], language: English}
stages:
  tokenize: {max_seq_len: 300, overflow: ${overflow}}
  split: {fractions: {train: 1}}
`;
}

describe('the tokenize stage', () => {
  it('drops what cannot fit, accounts for every sample and every conversation, and reports it', async () => {
    const dir = tempDir();
    const { pipeline } = writePipeline(dir, pipelineYaml(dir, corpus(dir), 'drop'));
    const r = await buildDataset(pipeline(), silentLogger);
    const tok = r.markers.find((m) => m.stage === 'tokenize')!;
    const flip = r.markers.find((m) => m.stage === 'flip')!;
    assert.equal(flip.samples_out, 2 + 2 + 4);
    assert.equal(tok.samples_in, flip.samples_out);
    const dropped = tok.sample_drops?.['too_long'] ?? 0;
    assert.equal(tok.samples_out! + dropped, tok.samples_in);
    // The huge conversation loses both samples and so leaves as a conversation drop too.
    assert.deepEqual(tok.drops, { all_samples_too_long: 1 });
    assert.equal(tok.conversations_out, 2);
    await withDb(async (db) => {
      const stageDir = join(dir, 'runs', 'tokenize');
      const convDrops = await db.all<{ conversation_id: string }>(`SELECT conversation_id FROM read_parquet(${sqlString(join(stageDir, 'drops.parquet'))})`);
      const sampleDrops = await db.all<{ conversation_id: string; num_tokens: number }>(
        `SELECT conversation_id, num_tokens FROM read_parquet(${sqlString(join(stageDir, 'sample_drops.parquet'))})`,
      );
      assert.equal(sampleDrops.length, dropped);
      assert.ok(sampleDrops.every((s) => s.num_tokens > 300));
      assert.equal(sampleDrops.filter((s) => s.conversation_id === convDrops[0]!.conversation_id).length, 2);
      const kept = await db.one<{ n: unknown; over: unknown }>(
        `SELECT count(*) AS n, count(*) FILTER (WHERE num_tokens > 300) AS over FROM read_parquet(${sqlString(join(dir, 'out', 'data', '*.parquet'))})`,
      );
      assert.equal(Number(kept.n), tok.samples_out);
      assert.equal(Number(kept.over), 0);
    });
    const manifest = JSON.parse(readFileSync(join(dir, 'out', 'manifest.json'), 'utf8'));
    const t = manifest.tokens;
    assert.equal(t.max_seq_len, 300);
    assert.equal(t.splits.train.samples, tok.samples_out);
    assert.equal(t.splits.train.dropped + t.dropped_without_split, dropped);
    assert.equal(t.dropped_without_split, 2);
    assert.ok(t.splits.train.max <= 300 && t.splits.train.p50 <= t.splits.train.p95 && t.splits.train.p95 <= t.splits.train.max);
    const stage = manifest.stages.find((s: { name: string }) => s.name === 'tokenize');
    assert.deepEqual(stage.samples_dropped, { too_long: dropped });
    const card = readFileSync(join(dir, 'out', 'README.md'), 'utf8');
    assert.match(card, /## Token lengths/);
    assert.match(card, /\| train \| \d+ \| [\d,]+ \| [\d,]+ \| [\d.]+ \| \d+ \| \d+ \| \d+ \| 0 \| \d+ \|/);
    assert.match(card, /too_long: \d+ samples/);
    // The report quotes a conversation tokenize dropped from the intents stage's files: the
    // stages between flip and shards keep no text of their own.
    const report = await withDb((db) => collectReportData(db, join(dir, 'runs'), { stages: STAGES.map((s) => s.name) }));
    const ex = report.dropExamples.find((e) => e.stage === 'tokenize' && e.reason === 'all_samples_too_long')!;
    assert.ok(ex.messages[0]!.content.startsWith('huge0 huge1'), JSON.stringify(ex));
    assert.deepEqual(report.sampleDrops, [{ stage: 'tokenize', reason: 'too_long', n: dropped }]);
    assert.equal(report.stages.find((x) => x.name === 'split')!.samples_out, tok.samples_out);
  });

  it('truncates the oldest exchanges instead under truncate_history, and the shards hold the cut history', async () => {
    const dir = tempDir();
    const { pipeline } = writePipeline(dir, pipelineYaml(dir, corpus(dir), 'truncate_history'));
    const r = await buildDataset(pipeline(), silentLogger);
    const tok = r.markers.find((m) => m.stage === 'tokenize')!;
    // Only the huge initiation sample is lost: its termination sample fits once the turn is cut.
    assert.deepEqual(tok.sample_drops, { too_long: 1 });
    assert.deepEqual(tok.drops, {});
    await withDb(async (db) => {
      const rows = await db.all<{ turn_index: number; kind: string; n: number; cut: number; first: string | null; num_tokens: number }>(
        `SELECT turn_index, kind, len(messages)::INTEGER AS n, history_messages_dropped AS cut, messages[2].content AS first, num_tokens
         FROM read_parquet(${sqlString(join(dir, 'out', 'data', '*.parquet'))})
         WHERE history_messages_dropped > 0 ORDER BY conversation_id, turn_index`,
      );
      assert.ok(rows.length >= 2);
      for (const row of rows) {
        assert.equal(row.cut % 2, 0);
        assert.ok(row.num_tokens <= 300);
        assert.equal(row.n, 1 + 2 * (row.turn_index - 1) - row.cut, 'system + the history left');
      }
      const term = rows.find((x) => x.kind === 'termination' && x.first?.startsWith('second0'));
      assert.ok(term, 'the three-turn termination sample starts at the second exchange');
    });
  });
});
