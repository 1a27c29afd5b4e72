import { RetryableError } from '../../core/errors.js';
import type { GuardVerdict } from '../../llm/invalid-answer-guard.js';

/**
 * The invalid-answer guard fired. Transient (exit 5): the endpoint, not the data, is at fault,
 * and once it is fixed a rerun asks again for what it answered badly (valid answers are kept).
 */
export function endpointBrokenError(v: GuardVerdict, baseURL: string, pipelineFile: string, maxFraction: number): RetryableError {
  const where = `${pipelineFile} stages.intents`;
  const what =
    v.rule === 'window'
      ? `${v.bad} of the last ${v.looked} conversations got no usable intent from ${baseURL} (more than ${where}.max_invalid_fraction = ${maxFraction})`
      : v.rule === 'all'
        ? `${v.bad} of the ${v.looked} conversations answered so far got no usable intent from ${baseURL} (more than ${where}.max_invalid_fraction = ${maxFraction})`
        : `not one of the ${v.looked} conversations ${baseURL} answered got a usable intent, so the stage would keep no conversation`;
  const last = v.last === null ? '' : ` Its last answer: ${JSON.stringify(v.last.length > 300 ? `${v.last.slice(0, 300)}...` : v.last)}.`;
  return new RetryableError(
    `stage intents stopped: ${what}; nothing was written (an earlier dataset is left as it was).${last} ` +
      `Check the model, the prompt and the server (${where}.model, .prompt, .base_url), then rerun: valid answers are kept, invalid and refused ones are asked again. ` +
      `(${where}.max_invalid_fraction: 1 turns this check off.)`,
  );
}
