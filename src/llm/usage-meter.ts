import type { ModelPrice } from '../config/pipeline-config.js';

export interface UsageSummary {
  model: string;
  backend: string;
  /** HTTP requests sent (attempts, retries included). */
  requests: number;
  /** Answers received and cached. */
  answers: number;
  retries: number;
  rate_limited: number;
  server_errors: number;
  timeouts: number;
  connection_errors: number;
  malformed: number;
  /** Batch requests that came back expired (sent again in a later file). */
  expired: number;
  invalid_answers: number;
  rejected: number;
  cache_hits: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** null when the price table has no entry for the model. */
  cost_usd: number | null;
  batches?: { files: number; submitted: number; resumed: number; resubmitted_requests: number };
}

/** Counts requests, retries, cache hits and tokens, and prices them against the config's table. */
export class UsageMeter {
  requests = 0;
  answers = 0;
  retries = 0;
  rateLimited = 0;
  serverErrors = 0;
  timeouts = 0;
  connectionErrors = 0;
  malformed = 0;
  expired = 0;
  invalidAnswers = 0;
  rejected = 0;
  cacheHits = 0;
  promptTokens = 0;
  completionTokens = 0;
  batches: UsageSummary['batches'];

  constructor(
    readonly model: string,
    readonly backend: string,
    private readonly price: ModelPrice | undefined,
    /** Share of the list price actually paid (0.5 for the Batch API). */
    private readonly priceFactor = 1,
  ) {}

  addUsage(promptTokens: number, completionTokens: number): void {
    this.promptTokens += promptTokens;
    this.completionTokens += completionTokens;
  }

  costUsd(): number | null {
    if (!this.price) return null;
    return ((this.promptTokens * this.price.input + this.completionTokens * this.price.output) / 1e6) * this.priceFactor;
  }

  summary(): UsageSummary {
    const cost = this.costUsd();
    return {
      model: this.model,
      backend: this.backend,
      requests: this.requests,
      answers: this.answers,
      retries: this.retries,
      rate_limited: this.rateLimited,
      server_errors: this.serverErrors,
      timeouts: this.timeouts,
      connection_errors: this.connectionErrors,
      malformed: this.malformed,
      expired: this.expired,
      invalid_answers: this.invalidAnswers,
      rejected: this.rejected,
      cache_hits: this.cacheHits,
      prompt_tokens: this.promptTokens,
      completion_tokens: this.completionTokens,
      cost_usd: cost === null ? null : Math.round(cost * 1e4) / 1e4,
      ...(this.batches ? { batches: this.batches } : {}),
    };
  }

  /** For the progress bar. */
  brief(): string {
    const cost = this.costUsd();
    return `${this.requests} req, ${this.retries} retries, ${this.cacheHits} cached, ${this.promptTokens + this.completionTokens} tok${cost === null ? '' : `, $${cost.toFixed(2)}`}`;
  }
}
