// The resolved pipeline: what the JSON Schema in schemas/pipeline.schema.json describes,
// with its defaults filled in and paths made absolute.

export type SourceType = 'wildchat' | 'prism' | 'generic';

export interface GenericFields {
  id?: string;
  messages?: string;
  role?: string;
  content?: string;
  user?: string;
  country?: string;
  language?: string;
  timestamp?: string;
  toxic?: string;
  redacted?: string;
}

export interface HubRef {
  repo: string;
  repo_type: 'dataset' | 'model';
  revision: string;
  files: string[];
}

export interface SourceConfig {
  name: string;
  type: SourceType;
  files: string[];
  format?: 'parquet' | 'jsonl';
  hub?: HubRef;
  split?: string;
  language?: string;
  preset?: 'openai' | 'sharegpt';
  fields?: GenericFields;
  roles?: Record<string, 'user' | 'assistant' | 'system'>;
  license?: string;
}

export interface FilterOptions {
  languages: string[];
  drop_toxic: boolean;
  drop_redacted: boolean;
  max_chars_per_turn: number;
  min_user_turns: number;
  max_user_turns: number | null;
}

export interface DedupOptions {
  exact: { enabled: boolean; text: 'all_user_turns' | 'first_user_turn' };
}

export type IntentBackend = 'template' | 'openai' | 'openai-batch';

/** USD per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
}

export interface IntentBatchOptions {
  max_requests_per_file: number;
  max_bytes_per_file: number;
  completion_window: '24h';
  poll_initial_s: number;
  poll_max_s: number;
  max_resubmits: number;
  price_factor: number;
}

export interface IntentOptions {
  backend: IntentBackend;
  model: string;
  base_url: string | null;
  api_key_env: string;
  prompt: string;
  temperature: number;
  retry_temperature: number;
  max_tokens: number;
  assistant_max_chars: number;
  user_max_chars: number;
  conversation_max_chars: number;
  min_chars: number;
  max_chars: number;
  max_invalid_retries: number;
  concurrency: number;
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
  max_retries: number;
  backoff_initial_ms: number;
  backoff_max_ms: number;
  timeout_s: number;
  prices: Record<string, ModelPrice>;
  batch: IntentBatchOptions;
}

export interface FlipOptions {
  end_token: string;
}

export interface SplitOptions {
  fractions: Record<string, number>;
  stratify_by: 'country' | 'none';
}

export interface ShardOptions {
  max_rows_per_shard: number;
  row_group_rows: number;
  compression_level: number;
}

export interface PipelineConfig {
  name: string;
  description?: string;
  seed: number;
  run_dir: string;
  out_dir: string;
  engine: { threads?: number; memory_limit?: string };
  sources: SourceConfig[];
  stages: {
    filter: FilterOptions;
    dedup: DedupOptions;
    intents: IntentOptions;
    flip: FlipOptions;
    split: SplitOptions;
    shards: ShardOptions;
  };
}

/** A loaded pipeline and where it came from. */
export interface LoadedPipeline {
  file: string;
  config: PipelineConfig;
  /** sha256 of the resolved config (canonical JSON, paths as written): the manifest's config hash. */
  configHash: string;
}
