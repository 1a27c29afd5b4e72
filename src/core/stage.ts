import type { LoadedPipeline } from '../config/pipeline-config.js';
import type { Db } from './db.js';
import type { Logger } from './logger.js';
import type { FileEntry } from './marker.js';

export const DATA_FILE = 'data.parquet';
export const DROPS_FILE = 'drops.parquet';
/**
 * Samples a stage removed while keeping their conversation (sample_id, conversation_id,
 * reason). A stage that writes it is held to samples in = samples out + sample drops; a
 * conversation left with no sample goes into drops.parquet as well.
 */
export const SAMPLE_DROPS_FILE = 'sample_drops.parquet';

/**
 * A column of conversation rows that stand for samples not yet expanded (the stages between
 * flip and shards): how many samples the row gives. The runner counts samples as its sum.
 */
export const NUM_SAMPLES_COLUMN = 'num_samples';

/**
 * COPY options of the Parquet files a stage writes for later stages and this tool's own
 * readers (report, inspect), not the published shards, which keep stages.shards.compression_level.
 * zstd level 1 rewrites the conversations' text in a third of the CPU time of DuckDB's
 * default level (3) for files about a fifth larger (100k realistic conversations: 7 s
 * instead of 21 s, 318 MB instead of 263 MB), and is read back as fast. Row groups of
 * 16,384 rows: DuckDB's default (122,880) holds about half a GB of realistic conversations
 * per writing thread, and its order-keeping writer then waits on those buffers; rewriting the
 * 1M realistic corpus's dedup output took 42.6 s wall (54.6 CPU s) at the default against
 * 31.8 s (45.5) at 16,384, with files within 0.01% of the size (8,192: 32.9 s; 32,768: 34.7 s).
 */
export const STAGE_PARQUET = 'FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE 16384';

/** What a stage that does not declare MapDeclaration.parquet writes its files with. */
export const DEFAULT_STAGE_PARQUET = 'FORMAT parquet, COMPRESSION zstd';

/** What the runner counted for a finished stage. */
export interface StageCounts {
  conversations_in: number;
  conversations_out: number;
  samples_out: number | null;
  drops: Record<string, number>;
  /** Only for stages that drop single samples (sample_drops.parquet). */
  samples_in?: number;
  sample_drops?: Record<string, number>;
}

/**
 * A finished stage as later stages see it: its counts, its typed notes and the absolute
 * paths of the files it publishes. The same value whether the stage ran now or was skipped
 * (then it is read back from the stage's marker).
 */
export interface StageResult<Notes = unknown, Files extends string = never> extends StageCounts {
  stage: string;
  notes: Notes;
  /** Absolute path of the data file the next stage in the recipe reads. */
  data: string;
  /** Absolute paths of the files the stage publishes by name (see StageOutcome.publish). */
  files: Record<Files, string>;
  /** Every file the stage wrote, as hashed into its marker (paths relative to the stage). */
  written: FileEntry[];
}

// The `any` here only erases the type parameters of the specs a stage depends on; what a
// stage receives is typed from its own `needs` through ResultOf.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStageSpec = StageSpec<any, any, any>;

/** The result type a spec's stage produces. */
export type ResultOf<S> = S extends StageSpec<infer N, infer F, infer _D> ? StageResult<N, F> : never;

export type Needs = Record<string, AnyStageSpec>;

/** Results of the stages a spec declared in `needs`, keyed as it declared them. */
export type NeededResults<D extends Needs> = { [K in keyof D]: ResultOf<D[K]> };

export interface StageContext<D extends Needs = Needs> {
  db: Db;
  pipeline: LoadedPipeline;
  /** Empty directory to write into; it becomes the stage directory only if the stage succeeds. */
  dir: string;
  /** The data file of the previous stage in the recipe (null for the first stage). */
  input: string | null;
  /** The typed results of the stages this one declared in `needs`. */
  needs: NeededResults<D>;
  /** Counts of every earlier stage, in recipe order (for funnels and manifests). */
  earlier: (StageCounts & { stage: string })[];
  /** For intermediate files; emptied after the stage. */
  scratchDir: string;
  log: Logger;
}

export interface StageOutcome<Notes = unknown, Files extends string = never> {
  /** Only for the first stage, which reads raw rows instead of a previous stage's output. */
  conversationsIn?: number;
  notes: Notes;
  /**
   * Parquet files (relative to dir) holding the rows this stage passes on; the runner counts
   * them. Default: data.parquet.
   */
  outputs?: string[];
  /** Files later stages may read, by name (relative to dir). */
  publish?: Record<Files, string>;
}

/**
 * One step of the recipe. A stage writes data.parquet (and drops.parquet with
 * conversation_id and reason for what it removed, sample_drops.parquet for samples) into
 * ctx.dir and returns its typed notes; the runner counts rows, checks the accounting,
 * hashes files, writes the completion marker and hands the typed result to the stages that
 * declared this one in their `needs`.
 */
export interface StageSpec<Notes = unknown, Files extends string = never, D extends Needs = Needs> {
  /** Also the name of the stage's directory under the run directory. */
  name: string;
  /** Bump when the stage's output changes for the same options, so old markers stop matching. */
  version: number;
  /** Earlier stages whose results this one reads (they must come before it in the recipe). */
  needs?: D;
  options(p: LoadedPipeline): unknown;
  /** Identity of external inputs (source files) for the fingerprint. */
  externalInputs?(p: LoadedPipeline, db: Db): Promise<unknown>;
  run(ctx: StageContext<D>): Promise<StageOutcome<Notes, Files>>;
  /** Present for per-conversation stages (see MapDeclaration). */
  map?: MapDeclaration<Notes>;
}

/** Whether a stage runs on partitions in this pipeline. */
export function isMapStage(spec: AnyStageSpec, p: LoadedPipeline): boolean {
  return !!spec.map && (spec.map.when?.(p) ?? true);
}

/**
 * A stage whose work is per conversation: `run --shard i/n` runs it on the i-th of n
 * partitions of its input (by a stable hash of conversation_id), and the partitions'
 * outputs are merged into the file a single run writes. Without it a stage is a reduce
 * step and runs once over everything.
 */
export interface MapDeclaration<Notes = unknown> {
  /** Whether this pipeline's options keep the stage per conversation (default: always). */
  when?(p: LoadedPipeline): boolean;
  /**
   * The ORDER BY of an output file whose rows are not in input order (by file name relative
   * to the stage directory); every other Parquet file keeps input order, conversation by
   * conversation.
   */
  order?: Record<string, string>;
  /** The whole stage's notes from its partitions' notes (default: every partition's must be equal). */
  mergeNotes?(parts: Notes[]): Notes;
  /**
   * The COPY options the stage writes its Parquet files with (STAGE_PARQUET, say): a merge of
   * its partitions writes the same, so that the merged files are byte-identical to a single
   * run's. Default: DEFAULT_STAGE_PARQUET.
   */
  parquet?: string;
}

/** Identity function that lets TypeScript infer a spec's notes, files and needs. */
export function defineStage<Notes, Files extends string = never, D extends Needs = Record<never, never>>(
  spec: StageSpec<Notes, Files, D>,
): StageSpec<Notes, Files, D> {
  return spec;
}
