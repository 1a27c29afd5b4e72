import { isDeepStrictEqual } from 'node:util';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sqlList, sqlString, type Db } from '../core/db.js';
import { StageError } from '../core/errors.js';
import type { StageMarker } from '../core/marker.js';
import { DEFAULT_STAGE_PARQUET, type AnyStageSpec, type StageOutcome } from '../core/stage.js';

/** A finished task: its directory and its marker. */
export interface FinishedTask {
  dir: string;
  marker: StageMarker;
}

/** The stage's notes from its partitions': its mergeNotes, else they must all be equal. */
export function mergeTaskNotes(spec: AnyStageSpec, notes: unknown[]): unknown {
  if (spec.map?.mergeNotes) return spec.map.mergeNotes(notes);
  if (notes.every((n) => isDeepStrictEqual(n, notes[0]))) return notes[0];
  throw new StageError(
    `stage ${spec.name}: its partitions' notes differ and the stage declares no mergeNotes, so they cannot be combined. This is a bug in userlm-data; please report it.`,
  );
}

/**
 * Writes into `dir` each file the tasks wrote, as one file in the order a single run writes
 * it: rows in the order of their conversation in the stage's input (`input`), each
 * conversation's rows in the order its task wrote them; or by the stage's declared ORDER BY.
 * The stage's outcome comes back as if it had run once.
 */
export async function mergePartitions(
  db: Db,
  spec: AnyStageSpec,
  args: { input: string | null; tasks: FinishedTask[]; dir: string },
): Promise<StageOutcome<unknown, string>> {
  const files = [...new Set(args.tasks.flatMap((t) => t.marker.files.map((f) => f.path)))].sort();
  const order = spec.map?.order ?? {};
  const inputOrder = files.some((f) => !order[f]);
  if (inputOrder && !args.input) throw new StageError(`stage ${spec.name} reads no input, so its partitions have no order to merge in. This is a bug in userlm-data.`);
  if (inputOrder) {
    await db.run(
      `CREATE OR REPLACE TEMP TABLE merge_positions AS
       SELECT conversation_id, min(file_row_number) AS _pos FROM read_parquet(${sqlString(args.input!)}, file_row_number = true) GROUP BY conversation_id`,
    );
  }
  try {
    for (const rel of files) {
      if (!rel.endsWith('.parquet') || rel.startsWith('/')) {
        throw new StageError(`stage ${spec.name}: partition file ${rel} is not a Parquet file in the stage directory, so it cannot be merged. This is a bug in userlm-data.`);
      }
      // Part directories are zero-padded, so ordering by file name is ordering by partition.
      const parts = args.tasks.filter((t) => t.marker.files.some((f) => f.path === rel)).map((t) => join(t.dir, rel));
      const by = order[rel] ? `${order[rel]}, _part, _row` : '_pos, _part, _row';
      const src = `read_parquet(${sqlList(parts)}, filename = true, file_row_number = true)`;
      const select = order[rel]
        ? `SELECT * EXCLUDE (filename, file_row_number), filename AS _part, file_row_number AS _row FROM ${src}`
        : `SELECT f.* EXCLUDE (filename, file_row_number), p._pos, f.filename AS _part, f.file_row_number AS _row
           FROM ${src} f LEFT JOIN merge_positions p ON p.conversation_id = f.conversation_id`;
      const out = join(args.dir, rel);
      await mkdir(dirname(out), { recursive: true });
      await db.run(
        `COPY (SELECT * EXCLUDE (${order[rel] ? '' : '_pos, '}_part, _row) FROM (${select}) ORDER BY ${by})
         TO ${sqlString(out)} (${spec.map?.parquet ?? DEFAULT_STAGE_PARQUET})`,
      );
    }
  } finally {
    if (inputOrder) await db.run('DROP TABLE IF EXISTS merge_positions');
  }
  const published = args.tasks[0]?.marker.published;
  for (const t of args.tasks) {
    if (!isDeepStrictEqual(t.marker.published, published)) throw new StageError(`stage ${spec.name}: its partitions publish different files. This is a bug in userlm-data.`);
  }
  return { notes: mergeTaskNotes(spec, args.tasks.map((t) => t.marker.notes)), ...(published ? { publish: published } : {}) };
}
