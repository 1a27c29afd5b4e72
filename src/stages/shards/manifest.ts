import type { LoadedPipeline } from '../../config/pipeline-config.js';
import type { StageMarker } from '../../core/marker.js';

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
  bytes: number;
  files: number;
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
    hub: { repo: string; revision: string } | null;
    files: { path: string; bytes: number; sha256: string }[];
  }[];
  stages: {
    name: string;
    conversations_in: number;
    conversations_out: number;
    samples_out: number | null;
    dropped: Record<string, number>;
    /**
     * LLM stages only: the model, prompt and usage (requests, retries, cache hits, tokens,
     * estimated cost) of the run that executed the stage. It depends on what was cached then,
     * so unlike the rest of the manifest it can differ between two runs of the same inputs.
     */
    llm?: Record<string, unknown>;
  }[];
  splits: Record<string, SplitStats>;
  files: ShardFile[];
}

export function defaultLicense(type: string): string {
  if (type === 'wildchat') return 'odc-by';
  if (type === 'prism') return 'cc-by-nc-4.0';
  return 'other';
}

/** Deterministic: no clock, no host; two runs of the same inputs give the same bytes. */
export function buildManifest(args: {
  pipeline: LoadedPipeline;
  version: string;
  schemaVersion: string;
  previous: StageMarker[];
  splits: Record<string, SplitStats>;
  files: ShardFile[];
}): Manifest {
  const { pipeline, previous } = args;
  const normalize = previous.find((m) => m.stage === 'normalize');
  const hashed = (normalize?.notes['sources'] ?? {}) as Record<string, { path: string; bytes: number; sha256: string }[]>;
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
      license: s.license ?? defaultLicense(s.type),
      hub: s.hub ? { repo: s.hub.repo, revision: s.hub.revision } : null,
      files: hashed[s.name] ?? [],
    })),
    stages: previous.map((m) => ({
      name: m.stage,
      conversations_in: m.conversations_in,
      conversations_out: m.conversations_out,
      samples_out: m.samples_out,
      dropped: m.drops,
      ...(m.notes['llm'] ? { llm: { ...(m.notes['llm'] as object), prompt: m.notes['prompt'] ?? null } } : {}),
    })),
    splits: args.splits,
    files: args.files,
  };
}
