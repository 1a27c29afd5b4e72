// The resolved pipeline: the Static<> types of the schema in pipeline-schema.ts (from which
// schemas/pipeline.schema.json is generated), with its defaults filled in.
import type { Static } from '@sinclair/typebox';
import type { SOURCE_DEFINITIONS } from '../sources/registry.js';
import type { PipelineFile, SourceSchema } from './pipeline-schema.js';

export type { GenericFields } from '../sources/generic.js';
export type { HubRef } from '../sources/common-source-options.js';

export type SourceType = (typeof SOURCE_DEFINITIONS)[number]['type'];
export type SourceConfig = Static<SourceSchema>;

export type PipelineConfig = PipelineFile;
type Stages = PipelineConfig['stages'];
export type FilterOptions = Stages['filter'];
export type DedupOptions = Stages['dedup'];
export type DedupKeep = DedupOptions['keep'];
export type IntentOptions = Stages['intents'];
export type IntentBackend = IntentOptions['backend'];
export type IntentBatchOptions = IntentOptions['batch'];
/** USD per million tokens. */
export type ModelPrice = IntentOptions['prices'][string];
export type FlipOptions = Stages['flip'];
export type TokenizeOptions = Stages['tokenize'];
export type SplitOptions = Stages['split'];
export type ShardOptions = Stages['shards'];

/** A loaded pipeline and where it came from. */
export interface LoadedPipeline {
  file: string;
  config: PipelineConfig;
  /** sha256 of the resolved config (canonical JSON, paths as written): the manifest's config hash. */
  configHash: string;
}
