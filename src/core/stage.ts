import type { LoadedPipeline } from '../config/pipeline-config.js';
import type { Db } from './db.js';
import type { Logger } from './logger.js';
import type { StageMarker } from './marker.js';

export const DATA_FILE = 'data.parquet';
export const DROPS_FILE = 'drops.parquet';
/**
 * Samples a stage removed while keeping their conversation (sample_id, conversation_id,
 * reason). A stage that writes it is held to samples in = samples out + sample drops; a
 * conversation left with no sample goes into drops.parquet as well.
 */
export const SAMPLE_DROPS_FILE = 'sample_drops.parquet';

export interface StageContext {
  db: Db;
  pipeline: LoadedPipeline;
  /** Empty directory to write into; it becomes the stage directory only if the stage succeeds. */
  dir: string;
  /** The previous stage's data.parquet (null for the first stage). */
  input: string | null;
  /** Markers of every earlier stage, in order. */
  previous: StageMarker[];
  /** For intermediate files; emptied after the stage. */
  scratchDir: string;
  log: Logger;
}

export interface StageOutcome {
  /** Only for the first stage, which reads raw rows instead of a previous stage's output. */
  conversationsIn?: number;
  notes?: Record<string, unknown>;
  /**
   * Parquet files (relative to dir) holding the rows this stage passes on; the runner counts
   * them. Default: data.parquet.
   */
  outputs?: string[];
}

/**
 * One step of the recipe. A stage writes data.parquet (and drops.parquet with
 * conversation_id and reason for what it removed, sample_drops.parquet for samples) into ctx.dir; the runner counts rows,
 * checks the accounting, hashes files, and writes the completion marker.
 */
export interface StageSpec {
  name: string;
  /** Bump when the stage's output changes for the same options, so old markers stop matching. */
  version: number;
  options(p: LoadedPipeline): unknown;
  /** Identity of external inputs (source files) for the fingerprint. */
  externalInputs?(p: LoadedPipeline, db: Db): Promise<unknown>;
  run(ctx: StageContext): Promise<StageOutcome>;
}
