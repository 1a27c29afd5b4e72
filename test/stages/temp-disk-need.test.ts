import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { toNumber } from '../../src/core/db.js';
import { SPILL_FACTOR, tempDiskNeed, tempDiskWarning } from '../../src/stages/normalize/temp-disk-need.js';
import { tempDir, withDb } from '../helpers.js';

const REAL = 'test/fixtures/wildchat-1m-sample50.parquet';
const REAL_JSONL = 'test/fixtures/wildchat-1m-sample50.jsonl';

describe('normalize: temporary disk', () => {
  it('counts Parquet by its uncompressed size and other files by their size, and expects a spill only past DuckDB memory', async () => {
    await withDb(async (db) => {
      // The real rows' text compresses: uncompressed they are larger than the file.
      const unc = toNumber((await db.one<{ u: unknown }>(`SELECT sum(total_uncompressed_size) AS u FROM parquet_metadata('${REAL}')`)).u);
      assert.ok(unc > statSync(REAL).size);
      const both = await tempDiskNeed(db, [REAL, REAL_JSONL], 2 ** 30);
      assert.equal(both.sourceBytes, unc + statSync(REAL_JSONL).size);
      assert.equal(both.spillBytes, 0, 'under 2 MB fit in 1 GiB of DuckDB memory');
      const small = await tempDiskNeed(db, [REAL, REAL_JSONL], 2 ** 20);
      assert.deepEqual(small, { sourceBytes: both.sourceBytes, spillBytes: SPILL_FACTOR * both.sourceBytes });
    });
  });

  it('warns, naming the run directory and the sizes, only when the disk has less free than the spill', () => {
    const need = { sourceBytes: 19.3e9, spillBytes: 38.6e9 };
    assert.equal(tempDiskWarning(need, 40e9, 'runs/big'), null);
    assert.equal(tempDiskWarning({ sourceBytes: 1e6, spillBytes: 0 }, 0, 'runs/big'), null);
    const w = tempDiskWarning(need, 12.5e9, 'runs/big');
    assert.match(w!, /38\.6 GB of temporary disk in runs\/big\/\.scratch/);
    assert.match(w!, /19\.3 GB of uncompressed data/);
    assert.match(w!, /12\.5 GB free/);
    assert.match(w!, /set run_dir to a larger disk/);
  });

  it('counts a Parquet file it cannot read by its size, leaving the error to the read that names it', async () => {
    const dir = tempDir();
    const bad = join(dir, 'broken.parquet');
    writeFileSync(bad, 'not parquet at all');
    await withDb(async (db) => {
      assert.deepEqual(await tempDiskNeed(db, [bad], 2 ** 30), { sourceBytes: 18, spillBytes: 0 });
    });
  });
});
