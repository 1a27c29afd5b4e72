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
  /** A full commit sha: a branch moves, and WildChat's did drop rows. */
  revision: string;
  /** Globs over repo paths. */
  files: string[];
}

export interface SourceConfig {
  name: string;
  type: SourceType;
  /** Local files or globs; absent for a Hub source, whose files are its snapshot in the cache. */
  files?: string[];
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
  drop_control_tokens: boolean;
  max_chars_per_turn: number;
  min_user_turns: number;
  max_user_turns: number | null;
}

export interface DedupOptions {
  exact: { enabled: boolean; text: 'all_user_turns' | 'first_user_turn' };
  near: {
    enabled: boolean;
    text: 'first_user_turn' | 'all_user_turns';
    ngram: number;
    min_words: number;
    num_perm: number;
    method: 'oph' | 'kperm';
    threshold: number;
    bands: number | null;
    rows: number | null;
    verify: boolean;
    workers: number | null;
  };
  templates: { enabled: boolean; ngram: number; max_others: number };
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

export interface TokenizeOptions {
  max_seq_len: number;
  overflow: 'truncate_history' | 'drop';
  /** A Hugging Face tokenizer.json of a Llama-3 family model; null: the bundled Llama-3 one. */
  tokenizer_json: string | null;
}

export interface SplitOptions {
  fractions: Record<string, number>;
  stratify_by: 'country' | 'none';
  check_leaks: boolean;
  leak_threshold: number;
  drop_leaks: boolean;
}

export interface ShardOptions {
  max_rows_per_shard: number;
  /** Also write `chat` (context + target, with per-message training flags) for axolotl. */
  chat_column: boolean;
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
    tokenize: TokenizeOptions;
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
