import OpenAI from 'openai';
import { ConfigError } from '../core/errors.js';
import { registerSecret } from '../core/redact-secrets.js';
import { nodeHttpFetch } from './node-http-fetch.js';

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/** A chat completion of a few hundred tokens is a few KB; even with logprobs it is far below this. */
export const MAX_RESPONSE_BYTES = 8 << 20;
/** Batch output files are read whole as one string, and V8 strings stop near 512 MiB. */
export const MAX_FILE_CONTENT_BYTES = 512 << 20;

/** How large a response from this URL may be. */
export function maxResponseBytes(url: URL): number {
  return /\/files\/[^/]+\/content$/.test(url.pathname) ? MAX_FILE_CONTENT_BYTES : MAX_RESPONSE_BYTES;
}

/** The endpoint a pipeline talks to: base_url, else $OPENAI_BASE_URL, else OpenAI's. */
export function resolveBaseUrl(o: Pick<EndpointOptions, 'base_url'>, env: NodeJS.ProcessEnv = process.env): string {
  return (o.base_url ?? env['OPENAI_BASE_URL'] ?? OPENAI_DEFAULT_BASE_URL).replace(/\/+$/, '');
}

export interface EndpointOptions {
  base_url: string | null;
  api_key_env: string;
}

export interface Endpoint {
  client: OpenAI;
  baseURL: string;
}

/**
 * The official client against any OpenAI-compatible URL. The key comes only from the
 * environment: a key in a pipeline file would end up in plans, config hashes and git.
 * Local servers (vLLM, Ollama, llama.cpp) usually need none.
 */
export function createOpenAIClient(o: EndpointOptions, pipelineFile: string, env: NodeJS.ProcessEnv = process.env, fetchImpl?: typeof fetch): Endpoint {
  const baseURL = resolveBaseUrl(o, env);
  const key = env[o.api_key_env];
  // Before any request: a server may echo the key in an error body.
  registerSecret(key, o.api_key_env);
  const isOpenAI = /^https:\/\/api\.openai\.com(\/|$)/.test(baseURL);
  if (!key && isOpenAI) {
    throw new ConfigError([
      {
        file: pipelineFile,
        path: 'stages.intents.api_key_env',
        message: `the environment variable ${o.api_key_env} is not set; export your API key in it (or set stages.intents.base_url to a local OpenAI-compatible server)`,
      },
    ]);
  }
  const client = new OpenAI({
    apiKey: key || 'no-key',
    baseURL,
    maxRetries: 0,
    // Its debug formatting of every request costs CPU even when nothing is printed.
    logLevel: 'off',
    fetch: fetchImpl ?? nodeHttpFetch({ maxResponseBytes }),
  });
  return { client, baseURL };
}
