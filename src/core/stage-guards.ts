import { join } from 'node:path';
import type { LoadedPipeline } from '../config/pipeline-config.js';
import { sqlList, type Db } from './db.js';
import { SourceError } from './errors.js';
import { DROPS_FILE, type StageCounts } from './stage.js';

/** The max_drop_fraction that holds for a stage: its own, else the pipeline's. */
export function maxDropFraction(pipeline: LoadedPipeline, stage: string): number {
  const own = (pipeline.config.stages as Record<string, { max_drop_fraction?: number | null } | undefined>)[stage]?.max_drop_fraction;
  return own ?? pipeline.config.max_drop_fraction;
}

/** "language 19 (e.g. w:1, w:2, w:3), toxic 2 (e.g. ...)": the top reasons with example ids. */
async function topReasons(db: Db, dir: string, written: string[], counts: StageCounts): Promise<string> {
  const top = Object.entries(counts.drops).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3);
  if (!written.includes(DROPS_FILE)) return top.map(([r, n]) => `${r} ${n}`).join(', ');
  const parts: string[] = [];
  for (const [reason, n] of top) {
    const ids = await db.all<{ conversation_id: string }>(
      `SELECT conversation_id FROM read_parquet(${sqlList([join(dir, DROPS_FILE)])}) WHERE reason = $r ORDER BY conversation_id LIMIT 3`,
      { r: reason },
    );
    parts.push(`${reason} ${n} (e.g. ${ids.map((x) => x.conversation_id).join(', ')})`);
  }
  return parts.join('; ');
}

/**
 * Nothing lost in silence: a stage that keeps no conversation, or drops more than its
 * max_drop_fraction, stops the run (exit 3) with its top drop reasons and example ids,
 * before its marker is written, so the fixed rerun executes it again.
 */
export async function checkStageGuards(db: Db, pipeline: LoadedPipeline, stage: string, dir: string, written: string[], counts: StageCounts): Promise<void> {
  const dropped = Object.values(counts.drops).reduce((a, b) => a + b, 0);
  const where = `${pipeline.file}: stage ${stage}`;
  if (counts.conversations_out === 0) {
    throw new SourceError(
      counts.conversations_in === 0
        ? `${where} received no conversations: the sources hold none. Check sources[].files (and that the files are not empty).`
        : `${where} kept no conversation of ${counts.conversations_in}: ${await topReasons(db, dir, written, counts)}. ` +
            'The output would be an empty dataset. Fix the option or the source that causes the top reason (e.g. stages.filter.languages for language, sources[].trim for starts_with_assistant / ends_with_user), then rerun.',
    );
  }
  const limit = maxDropFraction(pipeline, stage);
  if (counts.conversations_in > 0 && dropped / counts.conversations_in > limit) {
    const share = ((100 * dropped) / counts.conversations_in).toFixed(1);
    throw new SourceError(
      `${where} dropped ${dropped} of ${counts.conversations_in} conversations (${share}%), more than max_drop_fraction ${limit}: ${await topReasons(db, dir, written, counts)}. ` +
        `If that is expected, raise stages.${stage}.max_drop_fraction (or max_drop_fraction for every stage); otherwise fix what causes the top reason, then rerun.`,
    );
  }
}
