import type { LoadedPipeline } from '../../config/pipeline-config.js';
import type { StageCounts } from '../../core/stage.js';
import type { SourceConfig } from '../../config/pipeline-config.js';
import { SOURCE_DEFINITIONS, type SourceRegistry } from '../../sources/registry.js';
import type { IntentsNotes } from '../intents/intents-stage.js';
import type { NormalizeNotes } from '../normalize/normalize-stage.js';
import type { LeakReport } from '../split/split-stage.js';

export type { LeakReport };

export const GENERATOR = 'userlm-data';

export interface ShardFile {
  path: string;
  split: string;
  rows: number;
  bytes: number;
  sha256: string;
}

export interface SplitStats {
  conversations: number;
  samples: number;
  users: number;
  /** The split's shard files on disk (the card's download_size adds these up). */
  bytes: number;
  /** The split's Arrow size (arrowBytesSql): what `datasets` calls a split's num_bytes. Absent in older manifests. */
  num_bytes?: number;
  files: number;
}

/** Token lengths of one split's samples, as the trainer sees them. */
export interface TokenStats {
  samples: number;
  tokens: number;
  /** Tokens the loss is computed on (targets and their end tokens). */
  target_tokens: number;
  mean: number;
  p50: number;
  p95: number;
  max: number;
  /** Samples whose oldest history was cut to fit max_seq_len. */
  truncated: number;
  /** Samples dropped as too long whose conversation has other samples in this split. */
  dropped: number;
}

export interface TokenSummary {
  tokenizer: string;
  tokenizer_sha256: string;
  /** The chat format the counts are in (absent in manifests older than the format option: llama3). */
  format?: string;
  max_seq_len: number;
  end_token: string;
  overflow: string;
  splits: Record<string, TokenStats>;
  /** Samples dropped as too long from conversations left with no sample (so in no split). */
  dropped_without_split: number;
}

export interface Manifest {
  name: string;
  generator: { name: string; version: string };
  sample_schema_version: string;
  config_hash: string;
  pipeline_file: string;
  seed: number;
  sources: {
    name: string;
    type: string;
    license: string;
    /** revision as the pipeline names it; sha the commit the files were read from. */
    hub: { repo: string; repo_type: string; revision: string; sha: string | null } | null;
    files: { path: string; bytes: number; sha256: string }[];
    /**
     * What identifies a user for the disjoint split, or `none`: every conversation of the source
     * is its own user, so its split is by conversation, not by user. Absent in older manifests.
     */
    user_key?: string;
    /** Kept conversations with no user key when only some lack one. */
    conversations_without_user_key?: number;
    /** The split every conversation of the source goes to (sources[].split), or null. */
    split?: string | null;
  }[];
  stages: {
    name: string;
    conversations_in: number;
    conversations_out: number;
    samples_out: number | null;
    dropped: Record<string, number>;
    samples_in?: number;
    samples_dropped?: Record<string, number>;
    /**
     * LLM stages only: the model, prompt and usage (requests, retries, cache hits, tokens,
     * estimated cost) of the run that executed the stage. It depends on what was cached then,
     * so unlike the rest of the manifest it can differ between two runs of the same inputs.
     */
    llm?: Record<string, unknown>;
  }[];
  splits: Record<string, SplitStats>;
  /** Held-out conversations near-duplicate of training ones (split stage), or null when not checked. */
  leaks: LeakReport | null;
  tokens: TokenSummary | null;
  files: ShardFile[];
}

export function defaultLicense(type: string, registry: SourceRegistry = SOURCE_DEFINITIONS): string {
  return registry.find((d) => d.type === type)?.defaultLicense ?? 'other';
}

/** A source's user key as the manifest records it: what identifies a user, or `none`. */
function userKeyOf(s: SourceConfig, notes: NormalizeNotes, registry: SourceRegistry): { user_key: string; conversations_without_user_key?: number } {
  const def = registry.find((d) => d.type === s.type);
  const said = def?.userKey ? def.userKey(s) : (def?.cardProse.userKey ?? 'defined by the source type');
  const missing = notes.user_keys_missing?.[s.name];
  if (said === null || (missing && missing.without_user_key === missing.conversations)) return { user_key: 'none' };
  return { user_key: said, ...(missing ? { conversations_without_user_key: missing.without_user_key } : {}) };
}

/** Deterministic: no clock, no host; two runs of the same inputs give the same bytes. */
export function buildManifest(args: {
  pipeline: LoadedPipeline;
  version: string;
  schemaVersion: string;
  /** Counts of every stage before the shards stage, in recipe order. */
  stages: (StageCounts & { stage: string })[];
  /** What the normalize stage read. */
  sources: NormalizeNotes;
  /** The intents stage's name and notes (LLM usage when an LLM wrote them). */
  intents: { stage: string; notes: IntentsNotes } | null;
  leaks: LeakReport | null;
  splits: Record<string, SplitStats>;
  tokens: TokenSummary | null;
  files: ShardFile[];
  /** The source types known (default: the built-in registry). */
  registry?: SourceRegistry;
}): Manifest {
  const { pipeline, intents } = args;
  const hashed = args.sources.sources;
  const commits = args.sources.hub_commits ?? {};
  return {
    name: pipeline.config.name,
    generator: { name: GENERATOR, version: args.version },
    sample_schema_version: args.schemaVersion,
    config_hash: pipeline.configHash,
    pipeline_file: pipeline.file,
    seed: pipeline.config.seed,
    sources: pipeline.config.sources.map((s) => ({
      name: s.name,
      type: s.type,
      license: s.license ?? defaultLicense(s.type, args.registry),
      hub: s.hub ? { repo: s.hub.repo, repo_type: s.hub.repo_type, revision: s.hub.revision, sha: commits[s.name] ?? null } : null,
      files: hashed[s.name] ?? [],
      ...userKeyOf(s, args.sources, args.registry ?? SOURCE_DEFINITIONS),
      split: s.split ?? null,
    })),
    stages: args.stages.map((m) => ({
      name: m.stage,
      conversations_in: m.conversations_in,
      conversations_out: m.conversations_out,
      samples_out: m.samples_out,
      dropped: m.drops,
      ...(m.sample_drops ? { samples_in: m.samples_in, samples_dropped: m.sample_drops } : {}),
      ...(intents?.stage === m.stage && intents.notes.llm ? { llm: { ...intents.notes.llm, prompt: intents.notes.prompt ?? null } } : {}),
    })),
    splits: args.splits,
    leaks: args.leaks?.checked ? args.leaks : null,
    tokens: args.tokens,
    files: args.files,
  };
}
