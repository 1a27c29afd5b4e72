import { join } from 'node:path';
import type { IntentOptions, LoadedPipeline } from '../../config/pipeline-config.js';
import type { Logger } from '../../core/logger.js';
import { IntentRequestBuilder } from '../../llm/intent-request-builder.js';
import { loadIntentPrompt } from '../../llm/intent-prompt.js';
import { resolveBaseUrl } from '../../llm/openai-client.js';
import { ResponseCache } from '../../llm/response-cache.js';
import { UsageMeter } from '../../llm/usage-meter.js';
import type { IntentBounds } from '../../llm/validate-intent.js';
import { INTENT_PREFIX } from './template-intent.js';

/** The response cache of a run: outside every stage directory, so a failed stage keeps it. */
export function intentCachePath(runDir: string): string {
  return join(runDir, 'cache', 'intents', 'responses.jsonl');
}

export interface IntentLlm {
  o: IntentOptions;
  builder: IntentRequestBuilder;
  cache: ResponseCache;
  meter: UsageMeter;
  bounds: IntentBounds;
}

/** What both LLM backends share: the prompt, the request builder, the cache and the meter. */
export async function openIntentLlm(pipeline: LoadedPipeline, log: Logger, priceFactor: number): Promise<IntentLlm> {
  const o = pipeline.config.stages.intents;
  const prompt = await loadIntentPrompt(o.prompt, INTENT_PREFIX, pipeline.file);
  const builder = new IntentRequestBuilder(prompt, {
    model: o.model,
    temperature: o.temperature,
    retryTemperature: o.retry_temperature,
    maxTokens: o.max_tokens,
    assistantMaxChars: o.assistant_max_chars,
    userMaxChars: o.user_max_chars,
    conversationMaxChars: o.conversation_max_chars,
    endpoint: resolveBaseUrl(o),
  });
  const cache = await ResponseCache.open(intentCachePath(pipeline.config.run_dir));
  if (cache.skipped > 0) log.warn('intents.cache', `${cache.skipped} unreadable line(s) in ${cache.path} were skipped; their requests will be sent again`);
  const price = o.prices[o.model];
  if (!price) log.warn('intents.price', `no price for model ${o.model} in stages.intents.prices of ${pipeline.file}; the cost is not estimated`);
  const meter = new UsageMeter(o.model, o.backend, price, priceFactor);
  return { o, builder, cache, meter, bounds: { prefix: INTENT_PREFIX, minChars: o.min_chars, maxChars: o.max_chars } };
}

export function backendLabel(o: IntentOptions): string {
  return o.backend === 'template' ? 'template' : `${o.backend}:${o.model}`;
}
