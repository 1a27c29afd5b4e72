import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { collectReportData } from '../../src/report/collect-report-data.js';
import { findStageDir } from '../../src/report/find-stage-dir.js';
import { NEAR_PAIRS_FILE, NEAR_PAIRS_SHOWN, nearPairs } from '../../src/report/near-pairs.js';
import { renderReportHtml } from '../../src/report/render-report-html.js';
import { buildDataset, STAGES } from '../../src/stages/recipe.js';
import { samplePipelineYaml, tempDir, withDb, writePipeline } from '../helpers.js';

const stages = STAGES.map((s) => s.name);

describe('near-misses in the report dedup section', () => {
  const dir = tempDir('userlm-near-pairs-');
  const { pipeline } = writePipeline(dir, samplePipelineYaml(dir));
  const runDir = join(dir, 'runs');
  let dedupDir: string;

  before(async () => {
    await buildDataset(pipeline(), silentLogger);
    dedupDir = (await findStageDir(runDir, 'dedup'))!;
  });

  it('says "not recorded by this run" when the dedup stage wrote no near_pairs.parquet', async () => {
    // The dedup stage records its pairs: take them away to see a run that did not.
    rmSync(join(dedupDir, 'near_pairs.parquet'), { force: true });
    const data = await withDb((db) => collectReportData(db, runDir, { stages }));
    assert.equal(data.dedup!.nearPairs, null);
    assert.match(renderReportHtml(data, []), /near_pairs\.parquet\): not recorded by this run/);
  });

  it('shows the most similar unmerged and the least similar merged pairs, with texts from the file or the dedup input', async () => {
    await withDb(async (db) => {
      // Real ids of the dedup input, so that pairs without text columns are looked up there.
      const input = join((await findStageDir(runDir, 'filter'))!, 'data.parquet');
      const ids = (await db.all<{ conversation_id: string }>(`SELECT conversation_id FROM read_parquet(${sqlString(input)}) ORDER BY conversation_id LIMIT 14`)).map((r) => r.conversation_id);
      const rows: string[] = [];
      for (let i = 0; i < 7; i++) {
        // Unmerged at 0.50..0.62, merged at 0.70..0.82: the near-misses are 0.62.. and 0.70...
        rows.push(`(${sqlString(ids[2 * i]!)}, ${sqlString(ids[2 * i + 1]!)}, ${(0.5 + 0.02 * i).toFixed(2)}::FLOAT, false, 'unmerged text a${i}', 'unmerged text b${i}')`);
        rows.push(`(${sqlString(ids[2 * i + 1]!)}, ${sqlString(ids[2 * i]!)}, ${(0.7 + 0.02 * i).toFixed(2)}::FLOAT, true, NULL, NULL)`);
      }
      await db.run(`COPY (SELECT * FROM (VALUES ${rows.join(', ')}) v(a, b, similarity, merged, text_a, text_b)) TO ${sqlString(join(dedupDir, NEAR_PAIRS_FILE))} (FORMAT parquet)`);
    });
    const data = await withDb((db) => collectReportData(db, runDir, { stages }));
    const np = data.dedup!.nearPairs!;
    assert.equal(np.count, 14);
    assert.deepEqual(np.closestUnmerged.map((p) => p.similarity.toFixed(2)), ['0.62', '0.60', '0.58', '0.56', '0.54']);
    assert.deepEqual(np.loosestMerged.map((p) => p.similarity.toFixed(2)), ['0.70', '0.72', '0.74', '0.76', '0.78']);
    assert.equal(np.closestUnmerged.length, NEAR_PAIRS_SHOWN);
    assert.ok(np.closestUnmerged.every((p) => !p.merged && p.text_a!.startsWith('unmerged text a')));
    // NULL texts in the file: the first user turns come from the dedup input.
    assert.ok(np.loosestMerged.every((p) => p.merged && p.text_a!.length > 0 && p.text_b!.length > 0 && !p.text_a!.startsWith('unmerged')), JSON.stringify(np.loosestMerged));
    const html = renderReportHtml(data, []);
    assert.doesNotMatch(html, /not recorded by this run/);
    assert.match(html, /<ul class="near-unmerged"><li>similarity 0\.620: <code>/);
    assert.match(html, /<ul class="near-merged"><li>similarity 0\.700: <code>/);
  });

  it('refuses a near_pairs.parquet without the pair columns, naming the file', async () => {
    const bad = tempDir('userlm-near-pairs-bad-');
    await withDb(async (db) => {
      await db.run(`COPY (SELECT 'x' AS left_id, 0.5 AS score) TO ${sqlString(join(bad, NEAR_PAIRS_FILE))} (FORMAT parquet)`);
      await assert.rejects(nearPairs(db, bad), (e: Error) => e.name === 'SourceError' && e.message.includes(join(bad, NEAR_PAIRS_FILE)) && /a, b, similarity, merged/.test(e.message));
    });
  });
});
