import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { buildDataset } from '../../src/stages/recipe.js';
import { REALDATA, tempDir, withDb, writePipeline } from '../helpers.js';
import { resultOf, stageDir } from '../../src/core/runner.js';
import { dedupStage } from '../../src/stages/dedup/dedup-stage.js';

const REAL = join(REALDATA, 'wildchat-1m-sample50.parquet');
const dedupDir = (dir: string) => stageDir(join(dir, 'runs'), dedupStage);
// One user asked for the main points of a passage on coil design twice, 37 minutes apart,
// rewording the request; another asked for a summary of the same passage.
const COIL = 'coil designer is obliged';
const NAS = 'disk topology for a NAS';

function pipelineYaml(dir: string, file: string, text = 'first_user_turn'): string {
  // All languages: every one of the 50 real conversations reaches dedup.
  return `name: nd\nrun_dir: ${join(dir, 'runs')}\nout_dir: ${join(dir, 'out')}\nsources:\n  - {name: wc, type: wildchat, files: [${file}]}\nstages:\n  filter: {languages: []}\n  dedup: {near: {text: ${text}}}\n`;
}

describe('near-duplicate removal on real WildChat rows', () => {
  it('with the defaults, drops nothing when whole user sides are compared: no two conversations are 90% the same', async () => {
    const dir = tempDir();
    const r = await buildDataset(writePipeline(dir, pipelineYaml(dir, REAL, 'all_user_turns')).pipeline(), silentLogger);
    const dedup = resultOf(r, dedupStage);
    assert.deepEqual(dedup.drops, {});
    assert.equal(dedup.notes.near!.near_duplicates, 0);
    await withDb(async (db) => {
      // The closest pair not merged is one user's NAS layout asked again with other disks.
      const top = await db.one<{ similarity: number; a_text: string; b_text: string }>(
        `SELECT similarity, a_text, b_text FROM read_parquet(${sqlString(join(dedupDir(dir), 'near_pairs.parquet'))}) WHERE kind = 'near_miss' AND rank = 1`,
      );
      assert.ok(top.similarity > 0.7 && top.similarity < 0.9, `similarity ${top.similarity}`);
      assert.ok(top.a_text.includes(NAS) && top.b_text.includes(NAS));
      assert.notEqual(top.a_text, top.b_text);
    });
  });

  it('on first user turns, drops the two real re-asks (same user, same opening request, minutes later) and keeps the NAS asked with other disks', async () => {
    // The sample holds two pairs where one user sent the same opening prompt again (10 and
    // 37 minutes later, once word for word, once reworded in a few places) and then went on
    // differently. By the recipe's rule, dedup on the first user turn, the later one of each
    // pair is a near-duplicate. The same user's NAS layout with other disks (80% the same
    // words) is another request and stays.
    const dir = tempDir();
    const r = await buildDataset(writePipeline(dir, pipelineYaml(dir, REAL)).pipeline(), silentLogger);
    assert.deepEqual(r.markers.find((m) => m.stage === 'dedup')!.drops, { near_duplicate: 2 });
    await withDb(async (db) => {
      const rows = await db.all<{ dropped: string; kept: string; same_user: boolean; minutes: number; sim: number; t: string }>(
        `SELECT d.conversation_id AS dropped, d.duplicate_of AS kept, a.hashed_ip = b.hashed_ip AS same_user,
                date_diff('minute', b.timestamp, a.timestamp) AS minutes, d.similarity AS sim, a.conversation[1].content AS t
         FROM read_parquet(${sqlString(join(dedupDir(dir), 'drops.parquet'))}) d
         JOIN read_parquet(${sqlString(REAL)}) a ON d.conversation_id = 'wc:' || a.conversation_hash || ':' || a.conversation[1].turn_identifier
         JOIN read_parquet(${sqlString(REAL)}) b ON d.duplicate_of = 'wc:' || b.conversation_hash || ':' || b.conversation[1].turn_identifier
         ORDER BY 1`,
      );
      assert.equal(rows.length, 2);
      assert.deepEqual(rows.map((x) => x.t.includes(COIL) || x.t.includes(NAS)), [true, true]);
      for (const x of rows) {
        assert.ok(x.same_user, `${x.dropped} and ${x.kept} come from one user`);
        assert.ok(x.minutes > 0 && x.minutes < 60, `re-asked ${x.minutes} minutes later`);
        assert.ok(x.sim >= 0.9, `similarity ${x.sim} reaches the default threshold`);
      }
      const miss = await db.one<{ similarity: number; a_text: string }>(
        `SELECT similarity, a_text FROM read_parquet(${sqlString(join(dedupDir(dir), 'near_pairs.parquet'))}) WHERE kind = 'near_miss' AND rank = 1`,
      );
      assert.ok(miss.a_text.includes(NAS) && miss.similarity < 0.9);
    });
  });

  it('catches a planted copy of one of them with a few words edited', async () => {
    const dir = tempDir();
    const planted = join(dir, 'planted.parquet');
    let original = '';
    await withDb(async (db) => {
      // The English conversation with the longest first user turn, copied later with two words changed.
      const row = await db.one<{ h: string; tid: bigint }>(
        `SELECT conversation_hash AS h, conversation[1].turn_identifier AS tid FROM read_parquet(${sqlString(REAL)})
         WHERE language = 'English' ORDER BY length(conversation[1].content) DESC LIMIT 1`,
      );
      original = `wc:${row.h}:${row.tid}`;
      await db.run(
        `COPY (
           SELECT * FROM read_parquet(${sqlString(REAL)})
           UNION ALL
           SELECT * REPLACE (
             'planted0000000000000000000000000' AS conversation_hash,
             timestamp + INTERVAL 1 DAY AS timestamp,
             list_transform(conversation, (m, i) -> CASE WHEN i = 1
               THEN struct_pack("content" := regexp_replace(regexp_replace(m.content, '\\bthe\\b', 'a'), '\\band\\b', 'plus'),
                                country := m.country, hashed_ip := m.hashed_ip, "header" := m.header, "language" := m.language,
                                redacted := m.redacted, "role" := m.role, state := m.state, "timestamp" := m.timestamp, toxic := m.toxic,
                                turn_identifier := m.turn_identifier + 900000000)
               ELSE m END) AS conversation)
           FROM read_parquet(${sqlString(REAL)}) WHERE conversation_hash = $h)
         TO ${sqlString(planted)} (FORMAT parquet)`,
        { h: original.split(':')[1]! },
      );
    });
    const r = await buildDataset(writePipeline(dir, pipelineYaml(dir, planted, 'all_user_turns')).pipeline(), silentLogger);
    const dedup = r.markers.find((m) => m.stage === 'dedup')!;
    assert.deepEqual(dedup.drops, { near_duplicate: 1 });
    await withDb(async (db) => {
      const drops = await db.all<{ conversation_id: string; duplicate_of: string; similarity: number }>(
        `SELECT conversation_id, duplicate_of, similarity FROM read_parquet(${sqlString(join(dedupDir(dir), 'drops.parquet'))}) WHERE conversation_id LIKE 'wc:planted%'`,
      );
      assert.equal(drops.length, 1);
      assert.match(drops[0]!.conversation_id, /^wc:planted0+:/);
      assert.equal(drops[0]!.duplicate_of, original);
      assert.ok(drops[0]!.similarity >= 0.9 && drops[0]!.similarity < 1, `similarity ${drops[0]!.similarity}`);
    });
  });
});
