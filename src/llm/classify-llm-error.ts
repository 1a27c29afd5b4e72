import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { ResponseTooLargeError } from './node-http-fetch.js';

export type LlmFailure =
  /** Worth another try after a wait. */
  | { kind: 'retry'; reason: 'rate_limited' | 'server_error' | 'timeout' | 'connection' | 'malformed'; headers?: Headers; message: string }
  /** This request will never succeed; the conversation is dropped, the run goes on. */
  | { kind: 'rejected'; status: number; message: string }
  /** Nothing will succeed (key, model, URL, quota): stop the stage. */
  | { kind: 'fatal'; status: number | null; message: string };

/** Sorts what the openai client threw into retry, reject-this-request, or stop. */
export function classifyLlmError(e: unknown): LlmFailure {
  if (e instanceof APIUserAbortError) return { kind: 'fatal', status: null, message: 'request aborted' };
  // The client wraps what fetch threw; an oversized body is a broken answer, not a lost connection.
  if (e instanceof APIConnectionError && e.cause instanceof ResponseTooLargeError) return { kind: 'retry', reason: 'malformed', message: e.cause.message };
  if (e instanceof ResponseTooLargeError) return { kind: 'retry', reason: 'malformed', message: e.message };
  if (e instanceof APIConnectionTimeoutError) return { kind: 'retry', reason: 'timeout', message: e.message };
  if (e instanceof APIConnectionError) return { kind: 'retry', reason: 'connection', message: e.message };
  if (e instanceof APIError) {
    const status = e.status;
    const message = e.message;
    if (status === undefined) return { kind: 'retry', reason: 'malformed', message };
    // OpenAI answers an exhausted balance with 429 too; waiting does not refill it.
    if (status === 429 && e.code === 'insufficient_quota') return { kind: 'fatal', status, message };
    if (status === 429) return { kind: 'retry', reason: 'rate_limited', headers: e.headers, message };
    if (status === 408 || status === 409 || status >= 500) return { kind: 'retry', reason: 'server_error', headers: e.headers, message };
    if (status === 400 || status === 413 || status === 422) return { kind: 'rejected', status, message };
    return { kind: 'fatal', status, message };
  }
  // A 200 whose body is not JSON: the client's JSON parse fails.
  if (e instanceof SyntaxError) return { kind: 'retry', reason: 'malformed', message: e.message };
  return { kind: 'fatal', status: null, message: (e as Error)?.message ?? String(e) };
}
