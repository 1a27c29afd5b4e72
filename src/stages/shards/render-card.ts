import { stringify } from 'yaml';
import { axolotlDataset } from '../../trainer/axolotl-config.js';
import { axolotlStrategyFiles } from '../../trainer/write-trainer-files.js';
import { CHAT_FORMATS, EOT, templateTrailer, type ChatFormat, type ChatFormatName } from '../tokenize/chat-format.js';
import { SOURCE_DEFINITIONS, type SourceRegistry } from '../../sources/registry.js';
import type { SourceDefinition } from '../../sources/source-definition.js';
import type { Manifest } from './manifest.js';

export interface SampleSchema {
  version: string;
  required: string[];
  properties: Record<string, { type?: string | string[]; format?: string; enum?: string[]; description?: string; items?: { properties: Record<string, { type?: string }> } }>;
}

const LANGUAGE_CODES: Record<string, string> = {
  english: 'en', chinese: 'zh', russian: 'ru', french: 'fr', spanish: 'es', german: 'de', portuguese: 'pt',
  italian: 'it', japanese: 'ja', korean: 'ko', arabic: 'ar', turkish: 'tr', vietnamese: 'vi', indonesian: 'id',
  polish: 'pl', dutch: 'nl', ukrainian: 'uk', persian: 'fa', hindi: 'hi',
};

const PAPER_CITATION = `@misc{naous2025flipping,
  title  = {Flipping the Dialogue: Training and Evaluating User Language Models},
  author = {Naous, Tarek and Laban, Philippe and Xu, Wei and Neville, Jennifer},
  year   = {2025},
  eprint = {2510.06552},
  archivePrefix = {arXiv}
}`;

export function sizeCategory(n: number): string {
  if (n < 1_000) return 'n<1K';
  if (n < 10_000) return '1K<n<10K';
  if (n < 100_000) return '10K<n<100K';
  if (n < 1_000_000) return '100K<n<1M';
  if (n < 10_000_000) return '1M<n<10M';
  return '10M<n<100M';
}

function dtype(p: SampleSchema['properties'][string]): unknown {
  if (p.items) {
    return { list: Object.entries(p.items.properties).map(([name, f]) => ({ name, dtype: f.type === 'boolean' ? 'bool' : 'string' })) };
  }
  const t = Array.isArray(p.type) ? p.type.find((x) => x !== 'null') : p.type;
  if (t === 'integer') return { dtype: p.format === 'int64' ? 'int64' : 'int32' };
  if (t === 'boolean') return { dtype: 'bool' };
  if (t === 'number') return { dtype: 'float64' };
  return { dtype: 'string' };
}

export function splitOrder(names: string[]): string[] {
  const rank = (s: string) => ['train', 'validation', 'test'].indexOf(s);
  return [...names].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    if (ra !== -1 || rb !== -1) return (ra === -1 ? 99 : ra) - (rb === -1 ? 99 : rb);
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/** Text for a Markdown table cell: a pipe or a line break in a name must not make a new column or row. */
function cell(s: string): string {
  return s.replace(/\r\n|[\r\n\u2028\u2029]/g, ' ').replaceAll('|', '\\|');
}

/** A code span in a table cell, with a fence longer than any run of backticks inside. */
function codeCell(s: string): string {
  const longest = Math.max(0, ...(s.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return cell(`${fence}${pad}${s}${pad}${fence}`);
}

const fmt = (n: number) => n.toLocaleString('en-US');

export interface CardOptions {
  languages: string[];
  endToken: string;
  charts?: { funnel: string; tokenLengths: string | null };
  sources?: SourceRegistry;
}

/** What every section reads: the manifest and what is derived from it once. */
interface CardContext {
  m: Manifest;
  schema: SampleSchema;
  opts: CardOptions;
  types: SourceDefinition[];
  splits: string[];
  totalSamples: number;
  licenses: string[];
}

/** The dataset card (README.md with Hub front matter) of a finished dataset. Pure. */
/** schema: only the fields the shards hold (an optional column may be left out). */
export function renderCard(m: Manifest, schema: SampleSchema, opts: CardOptions): string {
  const splits = splitOrder(Object.keys(m.splits));
  const c: CardContext = {
    m,
    schema,
    opts,
    types: sourceTypesOf(m, opts.sources),
    splits,
    totalSamples: splits.reduce((a, s) => a + m.splits[s]!.samples, 0),
    licenses: [...new Set(m.sources.map((s) => s.license))].sort(),
  };
  return [
    ...frontMatterSection(c),
    ...introSection(c),
    ...splitsSection(c),
    ...leakSection(c),
    ...funnelSection(c),
    ...tokensSection(c),
    ...formatSection(c),
    ...fieldsSection(c),
    ...loadingSection(c),
    ...provenanceSection(c),
    ...licenseSection(c),
    ...citationSection(c),
  ].join('\n');
}

function frontMatterSection({ m, schema, opts, splits, totalSamples, licenses }: CardContext): string[] {
  const langCodes = [...new Set(opts.languages.map((l) => LANGUAGE_CODES[l.toLowerCase()] ?? l.toLowerCase()))];
  const front: Record<string, unknown> = {
    // Several licences: the Hub takes a list of identifiers; each sample's source says which applies.
    license: licenses.length === 1 ? licenses[0] : licenses.length ? licenses : 'other',
    ...(langCodes.length ? { language: langCodes } : {}),
    pretty_name: `UserLM training data: ${m.name}`,
    task_categories: ['text-generation'],
    tags: ['user-simulation', 'userlm', 'conversational', 'synthetic-intents'],
    size_categories: [sizeCategory(totalSamples)],
    // The intents (and so every sample's system message) are written by a program or an LLM.
    annotations_creators: ['machine-generated'],
    source_datasets: m.sources.map((s) => (s.hub ? s.hub.repo : `local:${s.name}`)),
    configs: [{ config_name: 'default', data_files: splits.map((s) => ({ split: s, path: `data/${s}-*` })) }],
    dataset_info: {
      features: Object.entries(schema.properties).map(([name, p]) => ({ name, ...(dtype(p) as object) })),
      // num_bytes as datasets means it: the split's uncompressed data; download_size: the files.
      splits: splits.map((s) => ({ name: s, num_bytes: m.splits[s]!.num_bytes ?? m.splits[s]!.bytes, num_examples: m.splits[s]!.samples })),
      download_size: m.files.reduce((a, f) => a + f.bytes, 0),
      dataset_size: splits.reduce((a, s) => a + (m.splits[s]!.num_bytes ?? m.splits[s]!.bytes), 0),
    },
  };
  return ['---', stringify(front, { lineWidth: 0, blockQuote: false }).trimEnd(), '---', ''];
}

function introSection({ m, splits, totalSamples }: CardContext): string[] {
  return [
    `# UserLM training data: ${m.name}`,
    '',
    `Training samples for a *User Language Model*, a model that plays the human side of a chat, built with ${m.generator.name} ${m.generator.version} ` +
      'following the recipe of "Flipping the Dialogue" (Naous et al., 2025; the model microsoft/UserLM-8b): real human-assistant logs are filtered to clean conversations, ' +
      'exact duplicates are removed, each conversation gets one high-level intent, and each conversation is flipped into samples whose target is the user\'s next turn.',
    '',
    `${fmt(totalSamples)} samples from ${fmt(splits.reduce((a, s) => a + m.splits[s]!.conversations, 0))} conversations.`,
    '',
  ];
}

function splitsSection({ m, splits, types }: CardContext): string[] {
  const L = ['## Splits', '', '| split | users | conversations | samples | files |', '|---|---:|---:|---:|---:|'];
  for (const s of splits) {
    const x = m.splits[s]!;
    L.push(`| ${cell(s)} | ${fmt(x.users)} | ${fmt(x.conversations)} | ${fmt(x.samples)} | ${x.files} |`);
  }
  // Sources with no user ids: the disjointness claim must not cover them (manifest user_key: none).
  const byConversation = m.sources.filter((s) => s.user_key === 'none' && !s.split).map((s) => `\`${s.name}\``);
  L.push(
    '',
    (byConversation.length ? 'Where a source identifies its users, train / validation / test are user-disjoint' : 'train / validation / test are **user-disjoint**') +
      `: users${userKeyProse(types)} are assigned as a whole, within each country, by a seeded hash of the user key, so no user appears in two of them. A source with a fixed split (PRISM as out-of-domain test) goes entirely to that split.` +
      (byConversation.length
        ? ` **${byConversation.join(', ')} ${byConversation.length > 1 ? 'have' : 'has'} no user ids: ${byConversation.length > 1 ? 'their' : 'its'} split is by conversation, not by user**; each conversation counts as its own user, so one person's conversations may be in more than one split.`
        : ''),
    '',
  );
  return L;
}

function leakSection({ m }: CardContext): string[] {
  if (!m.leaks) return [];
  const total = Object.values(m.leaks.by_split).reduce((a, b) => a + b, 0);
  return [
    '## Leakage check',
    '',
    `Held-out conversations whose first user turn is a near-duplicate of a ${m.leaks.against} conversation's (MinHash estimated Jaccard >= ${m.leaks.threshold}): ` +
      (total === 0 ? 'none.' : Object.entries(m.leaks.by_split).map(([s, n]) => `${s} ${fmt(n)}`).join(', ') + '.') +
      (total === 0 ? '' : m.leaks.dropped ? ' They were dropped (reason `split_leak`).' : ' They were kept; held-out scores on them flatter the model (set `split.drop_leaks: true` to drop them).'),
    '',
  ];
}

function funnelSection({ m, opts }: CardContext): string[] {
  const L = ['## Funnel', '', 'Every input conversation is either kept or dropped with one reason.', ''];
  L.push('| stage | conversations in | conversations out | samples out | dropped (reason: count) |', '|---|---:|---:|---:|---|');
  for (const st of m.stages) {
    const d =
      [...Object.entries(st.dropped).map(([r, n]) => `${cell(r)}: ${fmt(n)}`), ...Object.entries(st.samples_dropped ?? {}).map(([r, n]) => `${cell(r)}: ${fmt(n)} samples`)].join(', ') || '-';
    L.push(`| ${cell(st.name)} | ${fmt(st.conversations_in)} | ${fmt(st.conversations_out)} | ${st.samples_out === null ? '-' : fmt(st.samples_out)} | ${d} |`);
  }
  L.push('');
  if (opts.charts) L.push(`![Conversations kept after each stage](${opts.charts.funnel})`, '');
  return L;
}

/** The chat format of the counts; manifests older than the format option counted llama3. */
function formatOf(m: Manifest): ChatFormat {
  return CHAT_FORMATS[(m.tokens?.format ?? 'llama3') as ChatFormatName] ?? CHAT_FORMATS.llama3;
}

function formatSentence(f: ChatFormat): string {
  if (f.name === 'userlm-8b') {
    return (
      "Training format (`userlm-8b`, microsoft/UserLM-8b's own chat template; the model writes the *user* turn): no `<|begin_of_text|>`; per message `<|start_header_id|>{role}<|end_header_id|>\\n{content}<|eot_id|>` (one newline after the header); " +
      'the prompt always ends with `<|start_header_id|>user<|end_header_id|>`, so the generated turn is `\\n{target}<|eot_id|>`. `<|endconversation|>` is one added token. The loss covers the generated turn only. `userlm-data train` writes this chat template and a matching trainer config.'
    );
  }
  return 'Training format (Llama-3 headers; the model writes the *user* turn): `<|begin_of_text|>`, then per message `<|start_header_id|>{role}<|end_header_id|>\\n\\n{content}<|eot_id|>`, then the target as a `user` message. `<|endconversation|>` is one added special token. The loss covers the target and its `<|eot_id|>` only. `userlm-data train` writes a matching chat template and trainer config.';
}

function tokensSection({ m, opts }: CardContext): string[] {
  if (!m.tokens) return [];
  const t = m.tokens;
  const L = ['## Token lengths', ''];
  L.push(
    `Exact counts with the ${codeCell(t.tokenizer)} tokenizer in the training format below, \`max_seq_len\` ${fmt(t.max_seq_len)}. ` +
      (t.overflow === 'truncate_history'
        ? 'A longer sample loses its oldest user/assistant exchanges until it fits (the intent and the target always stay); one whose intent and target alone overflow is dropped.'
        : 'A longer sample is dropped.'),
    '',
  );
  L.push('| split | samples | tokens | trained tokens | mean | p50 | p95 | max | truncated | dropped (too long) |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of splitOrder(Object.keys(t.splits))) {
    const x = t.splits[s]!;
    L.push(`| ${cell(s)} | ${fmt(x.samples)} | ${fmt(x.tokens)} | ${fmt(x.target_tokens)} | ${x.mean} | ${fmt(x.p50)} | ${fmt(x.p95)} | ${fmt(x.max)} | ${fmt(x.truncated)} | ${fmt(x.dropped)} |`);
  }
  if (opts.charts?.tokenLengths) L.push('', `![Sample length in tokens per split against max_seq_len](${opts.charts.tokenLengths})`);
  if (t.dropped_without_split) L.push('', `${fmt(t.dropped_without_split)} more samples were dropped with their whole conversation (no sample of it fit), so they belong to no split.`);
  L.push('', formatSentence(formatOf(m)), '');
  return L;
}

function formatSection({ opts }: CardContext): string[] {
  return [
    '## How samples are formatted, and why',
    '',
    'A conversation with K user turns gives K+1 samples. `messages` is the context the User LM sees; `target` is what it learns to write:',
    '',
    '- **initiation** (`turn_index` 1): `messages` = the intent as a system message; `target` = the first user turn.',
    '- **interaction** (`turn_index` 2..K): `messages` = intent, then the conversation up to the assistant reply before user turn k; `target` = user turn k.',
    `- **termination** (\`turn_index\` K+1): \`messages\` = intent and the whole conversation; \`target\` = \`${opts.endToken}\`, so the model learns when a user stops.`,
    '',
    'Train with the loss on `target` only: the history and the intent are context the user has seen, not words the user wrote. The intent conditions the simulator on a goal without scripting its words, which is what lets a User LM be steered at evaluation time.',
    '',
  ];
}

function fieldsSection({ schema }: CardContext): string[] {
  const L = ['## Fields', '', `Sample schema version ${schema.version}.`, '', '| field | type | description |', '|---|---|---|'];
  for (const [name, p] of Object.entries(schema.properties)) {
    const t = p.items ? 'list<struct<role: string, content: string>>' : p.enum ? 'string' : (Array.isArray(p.type) ? p.type.join(' or ') : p.type) ?? '';
    L.push(`| ${codeCell(name)} | ${cell(t)} | ${cell(p.description ?? '')} |`);
  }
  L.push('');
  return L;
}

function loadingSection(c: CardContext): string[] {
  const { splits } = c;
  // The card is written before anyone knows which repo it will be published to, so the Hub
  // snippets name the repo as a placeholder; the local ones work in this directory as is.
  return [
    '## How to load',
    '',
    'With `datasets`, from the Hub (the `configs` above declare the splits) or from a local copy of this directory:',
    '',
    '```python',
    'from datasets import load_dataset',
    'ds = load_dataset("<owner>/<this-dataset>")',
    `ds = load_dataset("parquet", data_files={${splits.map((s) => `"${s}": "data/${s}-*.parquet"`).join(', ')}})`,
    '```',
    '',
    'With DuckDB, locally or straight from the Hub:',
    '',
    '```sql',
    `SELECT kind, count(*) FROM 'data/train-*.parquet' GROUP BY kind;`,
    `SELECT kind, count(*) FROM 'hf://datasets/<owner>/<this-dataset>/data/train-*.parquet' GROUP BY kind;`,
    '```',
    '',
    ...trainerSnippets(c),
  ];
}

/** A Python string literal (JSON's escapes are Python's for these texts). */
const py = (s: string) => JSON.stringify(s);

/**
 * TRL and axolotl, as `userlm-data train` sets them up: the dataset's chat template, the end
 * token added, <|eot_id|> as EOS, the loss on the generated user turn only.
 */
function trainerSnippets({ m, opts }: CardContext): string[] {
  if (!m.tokens) {
    return [
      'With TRL (`SFTTrainer`, prompt/completion so that the loss covers the target only):',
      '',
      '```python',
      'def to_prompt_completion(row):',
      '    return {"prompt": row["messages"], "completion": [{"role": "user", "content": row["target"]}]}',
      'train = ds["train"].map(to_prompt_completion, remove_columns=ds["train"].column_names)',
      '```',
      '',
    ];
  }
  const f = formatOf(m);
  const endToken = m.tokens.end_token || opts.endToken;
  const trainFiles = m.files.filter((x) => x.split === 'train').map((x) => x.path);
  const axolotl = {
    base_model: 'meta-llama/Llama-3.1-8B',
    chat_template: 'jinja',
    chat_template_jinja: f.template,
    special_tokens: { eos_token: EOT, pad_token: '<|end_of_text|>', additional_special_tokens: [endToken] },
    datasets: [axolotlDataset('.', trainFiles, f.template)],
    sequence_len: m.tokens.max_seq_len,
    sample_packing: false,
    train_on_inputs: false,
    micro_batch_size: 1,
    gradient_accumulation_steps: 1024,
    num_epochs: 1,
    learning_rate: 2e-5,
    bf16: true,
    output_dir: 'checkpoints',
  };
  const strategy = axolotlStrategyFiles();
  return [
    `With TRL (\`SFTTrainer\` on prompt/completion text rendered with the \`${f.name}\` chat template, so the loss covers the generated user turn only; \`userlm-data train --trainer trl\` writes the full multi-GPU version):`,
    '',
    '```python',
    'import torch',
    'from datasets import load_dataset',
    'from transformers import AddedToken, AutoModelForCausalLM, AutoTokenizer',
    'from trl import SFTConfig, SFTTrainer',
    '',
    'BASE = "meta-llama/Llama-3.1-8B"',
    `CHAT_TEMPLATE = ${py(f.template)}`,
    `TRAILER = ${py(templateTrailer(f))}  # what the template appends after the last message`,
    'tokenizer = AutoTokenizer.from_pretrained(BASE)',
    'tokenizer.chat_template = CHAT_TEMPLATE',
    `tokenizer.add_tokens([AddedToken(${py(endToken)}, special=False, normalized=False)])`,
    `tokenizer.eos_token = ${py(EOT)}  # a turn ends with <|eot_id|>`,
    'tokenizer.add_bos_token = False  # the template writes any begin-of-text itself',
    'tokenizer.pad_token = tokenizer.pad_token or "<|end_of_text|>"',
    'model = AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float32)',
    'model.resize_token_embeddings(len(tokenizer))',
    'model.config.eos_token_id = model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids(tokenizer.eos_token)',
    '',
    'def to_prompt_completion(row):',
    '    prompt = tokenizer.apply_chat_template(row["messages"], tokenize=False, add_generation_prompt=True)',
    '    full = tokenizer.apply_chat_template(row["messages"] + [{"role": "user", "content": row["target"]}], tokenize=False)',
    '    return {"prompt": prompt, "completion": full[len(prompt):len(full) - len(TRAILER)]}',
    '',
    'ds = load_dataset("parquet", data_files={"train": "data/train-*.parquet"})',
    'train = ds["train"].map(to_prompt_completion, remove_columns=ds["train"].column_names)',
    'args = SFTConfig(output_dir="checkpoints", max_length=' +
      `${m.tokens.max_seq_len}, completion_only_loss=True, packing=False, learning_rate=2e-5, num_train_epochs=1, per_device_train_batch_size=1, gradient_accumulation_steps=1024, bf16=True)`,
    'SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer).train()',
    '```',
    '',
    'With axolotl (`axolotl train axolotl.yaml` in this directory; `userlm-data train --trainer axolotl` writes the full config and launch scripts). ' +
      'The shards keep one copy of the context: the dataset type `userlm_axolotl.chat` builds axolotl\'s message list (`messages` not trained, `target` trained) at load time, from the two files below, saved as `userlm_axolotl/` beside the config and put on `PYTHONPATH`:',
    '',
    '```yaml',
    stringify(axolotl, { lineWidth: 0, version: '1.1' }).trimEnd(),
    '```',
    '',
    ...Object.entries(strategy).flatMap(([name, text]) => [`\`${name}\`:`, '', '```python', text.trimEnd(), '```', '']),
  ];
}

function provenanceSection({ m }: CardContext): string[] {
  const L = ['## Provenance', '', `- Pipeline file: \`${m.pipeline_file}\`; config hash \`${m.config_hash}\`; seed ${m.seed}.`, `- Generator: ${m.generator.name} ${m.generator.version}.`];
  for (const st of m.stages) if (st.llm) L.push(`- ${llmLine(st.name, st.llm)}`);
  L.push('');
  L.push('| source | type | license | Hub repo @ commit | file | sha256 |', '|---|---|---|---|---|---|');
  for (const s of m.sources) {
    const hub = s.hub
      ? `[${s.hub.repo}](https://huggingface.co/${s.hub.repo_type === 'model' ? '' : 'datasets/'}${s.hub.repo}) @ \`${s.hub.sha ?? s.hub.revision}\`` +
        (s.hub.sha && s.hub.sha !== s.hub.revision ? ` (revision \`${s.hub.revision}\`)` : '')
      : 'local';
    for (const f of s.files.length ? s.files : [{ path: '-', sha256: '-', bytes: 0 }]) {
      L.push(`| ${cell(s.name)} | ${cell(s.type)} | ${cell(s.license)} | ${cell(hub)} | ${codeCell(f.path)} | ${codeCell(f.sha256)} |`);
    }
  }
  L.push(
    '',
    'Hub sources are read at the commit shown, which `userlm-data pull` resolves and verifies (sizes and hashes of every file). ' +
      'The same pipeline file and config hash rebuild the same shards: `userlm-data pull <pipeline>` then `userlm-data run <pipeline>`. ' +
      'File checksums of every shard are in `manifest.json`.',
    '',
  );
  return L;
}

function licenseSection({ m, licenses }: CardContext): string[] {
  if (licenses.length === 1) return ['## License', '', `The data carries the license of its source(s): ${licenses[0]}.`, ''];
  const L = ['## License', '', `The sources carry different licenses (${licenses.join(', ')}); each sample's \`source\` field says which applies:`, ''];
  for (const s of m.sources) L.push(`- \`${s.name.replace(/[`\r\n\u2028\u2029]/g, ' ')}\`: ${s.license.replace(/[\r\n\u2028\u2029]/g, ' ')}`);
  L.push('');
  return L;
}

function citationSection({ types }: CardContext): string[] {
  const L = ['## Citation', '', '```bibtex', PAPER_CITATION];
  for (const d of types) if (d.citation) L.push('', d.citation);
  L.push('```', '');
  return L;
}

function llmLine(stage: string, llm: Record<string, unknown>): string {
  const n = (k: string) => Number(llm[k] ?? 0).toLocaleString('en-US');
  const prompt = llm['prompt'] as { id?: string; version?: number; sha256?: string } | null;
  const cost = llm['cost_usd'];
  return (
    `Stage ${stage}: written by \`${String(llm['model'])}\` (${String(llm['backend'])} backend)` +
    (prompt ? ` with prompt \`${prompt.id}\` v${prompt.version} (sha256 \`${String(prompt.sha256).slice(0, 12)}\`)` : '') +
    `; the run that wrote them sent ${n('requests')} request(s) with ${n('retries')} retries, reused ${n('cache_hits')} cached answer(s), ` +
    `used ${(Number(llm['prompt_tokens'] ?? 0) + Number(llm['completion_tokens'] ?? 0)).toLocaleString('en-US')} tokens` +
    (typeof cost === 'number' ? ` (about $${cost.toFixed(2)})` : '') +
    '.'
  );
}

/** The definitions of the source types in the manifest, in order of first appearance. */
function sourceTypesOf(m: Manifest, registry: SourceRegistry = SOURCE_DEFINITIONS): SourceDefinition[] {
  return [...new Set(m.sources.map((s) => s.type))].flatMap((t) => registry.filter((d) => d.type === t));
}

function userKeyProse(types: SourceDefinition[]): string {
  const said = types.filter((d) => d.cardProse.userKey).map((d) => `${d.title}: ${d.cardProse.userKey}`);
  return said.length ? ` (${said.join('; ')})` : '';
}
