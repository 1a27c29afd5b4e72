import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sqlString } from '../../core/db.js';
import { sha256Hex } from '../../core/hash.js';
import type { IntentOptions, LoadedPipeline } from '../../config/pipeline-config.js';
import { DATA_FILE, STAGE_PARQUET, defineStage, type StageContext, type StageOutcome } from '../../core/stage.js';
import type { UsageSummary } from '../../llm/usage-meter.js';
import { generateBatchIntents } from './batch-intents.js';
import { generateOnlineIntents } from './online-intents.js';
import { resolveBaseUrl } from '../../llm/openai-client.js';
import { templateIntentSql } from './template-intent.js';
import { FIRST_USER_TURN_SQL } from '../conversation-sql.js';

/**
 * The options that decide which intents come out. Concurrency, rate limits, timeouts,
 * prices, the guard and the batch plumbing only decide how fast and how dear (or whether
 * the stage finishes), so changing them does not rerun the stage (and the stages after it).
 * The endpoint does decide the answers; it enters the fingerprint through externalInputs,
 * resolved ($OPENAI_BASE_URL included), as it enters every cache key.
 */
export function intentOutputOptions(o: IntentOptions): unknown {
  if (o.backend === 'template') return { backend: o.backend };
  return {
    // Both LLM backends send the same requests and share the cache, so they give the same intents.
    backend: 'llm',
    model: o.model,
    temperature: o.temperature,
    retry_temperature: o.retry_temperature,
    max_tokens: o.max_tokens,
    assistant_max_chars: o.assistant_max_chars,
    user_max_chars: o.user_max_chars,
    conversation_max_chars: o.conversation_max_chars,
    min_chars: o.min_chars,
    max_chars: o.max_chars,
    max_invalid_retries: o.max_invalid_retries,
  };
}

/** The prompt an LLM backend used, as the manifest records it. */
export interface IntentPromptRef {
  file: string;
  id: string;
  version: number;
  sha256: string;
}

/** LLM backends only: what the run that executed the stage sent and spent. */
export interface IntentsNotes {
  llm?: UsageSummary;
  prompt?: IntentPromptRef;
}

/**
 * The template backend is one COPY: the intent is a function of the first user turn, which
 * DuckDB evaluates on its own threads (templateIntentSql), with the rows in input order.
 */
async function templateIntents({ db, dir, input }: StageContext): Promise<StageOutcome<IntentsNotes>> {
  await db.run(
    `COPY (SELECT *, ${templateIntentSql(FIRST_USER_TURN_SQL)} AS intent, 'template' AS intent_backend FROM read_parquet(${sqlString(input!)}))
     TO ${sqlString(join(dir, DATA_FILE))} (${STAGE_PARQUET})`,
  );
  return { notes: {} };
}

/**
 * One intent per conversation: offline from a template, or written by an LLM (one request
 * per conversation, or through the Batch API). Conversations are streamed from DuckDB, the
 * backend writes intents through an appender, and SQL joins them back in input order.
 */
export const intentsStage = defineStage({
  name: 'intents',
  // 4: files written with STAGE_PARQUET (zstd level 1).
  // 5: template intents computed by DuckDB (templateIntentSql; the same intents).
  version: 5,
  // LLM backends scale through the provider (Batch API, a vLLM fleet), and one task owns their cache and batch jobs.
  map: { when: (p) => p.config.stages.intents.backend === 'template', parquet: STAGE_PARQUET },
  options: (p) => intentOutputOptions(p.config.stages.intents),
  async externalInputs(p: LoadedPipeline) {
    const o = p.config.stages.intents;
    if (o.backend === 'template') return null;
    // The prompt's wording decides the intents: an edited prompt reruns the stage.
    return { prompt_sha256: await readFile(o.prompt).then(sha256Hex, () => 'unreadable'), endpoint: resolveBaseUrl(o) };
  },
  async run(ctx): Promise<StageOutcome<IntentsNotes>> {
    const backend = ctx.pipeline.config.stages.intents.backend;
    if (backend === 'openai') return { notes: (await generateOnlineIntents(ctx)).notes as IntentsNotes };
    if (backend === 'openai-batch') return { notes: (await generateBatchIntents(ctx)).notes as IntentsNotes };
    return templateIntents(ctx);
  },
});
