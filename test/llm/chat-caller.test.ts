import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RetryableError, StageError } from '../../src/core/errors.js';
import { ChatCaller, type ChatCallerOptions } from '../../src/llm/chat-caller.js';
import { createOpenAIClient } from '../../src/llm/openai-client.js';
import { RateLimiter } from '../../src/llm/rate-limiter.js';
import { UsageMeter } from '../../src/llm/usage-meter.js';
import { INTENT_PREFIX, startOpenAICompatibleServer, type ChatBody, type Fate, type OpenAICompatibleServer } from '../servers/openai-compatible-server.js';

/** Fates by the user message's text: "first-429" fails its first try with a 429, and so on. */
function scriptByText(n: number, body: ChatBody): Fate | null {
  const text = body.messages?.[body.messages.length - 1]?.content ?? '';
  const m = /^(\w+):(\d+)$/.exec(text);
  if (!m) return null;
  return n <= Number(m[2]) ? (m[1] as Fate) : 'ok';
}

describe('one chat completion through the real openai client', () => {
  let server: OpenAICompatibleServer;
  const times: number[] = [];

  before(async () => {
    server = await startOpenAICompatibleServer({
      script: (n, body) => {
        times.push(performance.now());
        return scriptByText(n, body);
      },
      faults: { retryAfterMs: null, retryAfterSeconds: 1 },
      lifetimeMs: 60_000,
    });
  });
  after(() => server.close());

  const caller = (over: Partial<ChatCallerOptions> = {}) => {
    const meter = new UsageMeter('m', 'openai', { input: 2.5, output: 10 });
    const { client } = createOpenAIClient({ base_url: server.url, api_key_env: 'USERLM_TEST_NO_SUCH_KEY' }, 'p.yaml', {});
    const c = new ChatCaller({
      client,
      concurrency: 4,
      limiter: new RateLimiter({ requestsPerMinute: null, tokensPerMinute: null }),
      maxRetries: 3,
      backoff: { initialMs: 5, maxMs: 50 },
      timeoutMs: 300,
      meter,
      fatalHint: (f) => `fatal ${f.status}: check the key`,
      ...over,
    });
    return { c, meter };
  };
  const ask = (text: string) => ({ model: 'm', messages: [{ role: 'user' as const, content: text }] });

  it('answers, with usage and an estimated cost', async () => {
    // A generous timeout: the first request of a cold process on a loaded machine can take 300 ms.
    const { c, meter } = caller({ timeoutMs: 5000 });
    const r = await c.complete(ask('plain'), 100);
    assert.equal(r.kind, 'answer');
    assert.ok(r.kind === 'answer' && r.text!.startsWith(INTENT_PREFIX));
    assert.equal(meter.requests, 1);
    assert.ok(meter.promptTokens > 0 && meter.completionTokens > 0);
    assert.ok(meter.costUsd()! > 0);
  });

  it('waits out Retry-After after a 429 before asking again', async () => {
    const { c, meter } = caller();
    times.length = 0;
    const r = await c.complete(ask('rate_limit:1'), 100);
    assert.equal(r.kind, 'answer');
    assert.equal(times.length, 2);
    assert.ok(times[1]! - times[0]! >= 990, `asked again after ${Math.round(times[1]! - times[0]!)} ms; Retry-After said 1 s`);
    assert.equal(meter.rateLimited, 1);
    assert.equal(meter.retries, 1);
  });

  it('retries 500s, hangs (by timeout) and malformed bodies', async () => {
    const { c, meter } = caller();
    const started = performance.now();
    const rs = await Promise.all([c.complete(ask('server_error:2'), 100), c.complete(ask('hang:1'), 100), c.complete(ask('malformed:1'), 100)]);
    assert.deepEqual(rs.map((r) => r.kind), ['answer', 'answer', 'answer']);
    assert.equal(meter.serverErrors, 2);
    assert.equal(meter.timeouts, 1);
    assert.equal(meter.malformed, 1);
    assert.equal(meter.retries, 4);
    assert.ok(performance.now() - started >= 300, 'the hang ended by the 300 ms timeout');
  });

  it('returns a refusal (400) as a value, without retrying', async () => {
    const { c, meter } = caller();
    const r = await c.complete(ask('bad_request:9'), 100);
    assert.equal(r.kind, 'rejected');
    assert.match(r.kind === 'rejected' ? r.message : '', /HTTP 400/);
    assert.equal(meter.requests, 1);
    assert.equal(meter.retries, 0);
  });

  it('gives up with a RetryableError once retries run out', async () => {
    const { c, meter } = caller({ maxRetries: 2 });
    await assert.rejects(c.complete(ask('server_error:99'), 100), (e: unknown) => e instanceof RetryableError && /after 2 retries/.test(e.message) && /rerun later/.test(e.message));
    assert.equal(meter.requests, 3);
  });

  it('stops on a bad key with the hint, and never sends the key anywhere but the header', async () => {
    const keyed = await startOpenAICompatibleServer({ requireKey: 'sk-right', lifetimeMs: 60_000 });
    try {
      const meter = new UsageMeter('m', 'openai', undefined);
      const { client } = createOpenAIClient({ base_url: keyed.url, api_key_env: 'K' }, 'p.yaml', { K: 'sk-wrong' });
      const c = new ChatCaller({ client, concurrency: 1, limiter: new RateLimiter({ requestsPerMinute: null, tokensPerMinute: null }), maxRetries: 5, backoff: { initialMs: 1, maxMs: 1 }, timeoutMs: 1000, meter, fatalHint: (f) => `HTTP ${f.status}: check K` });
      await assert.rejects(c.complete(ask('x'), 1), (e: unknown) => e instanceof StageError && e.message === 'HTTP 401: check K' && !e.message.includes('sk-wrong'));
      assert.equal(meter.requests, 1, 'no retries on a bad key');
      const ok = createOpenAIClient({ base_url: keyed.url, api_key_env: 'K' }, 'p.yaml', { K: 'sk-right' });
      const r = await new ChatCaller({ client: ok.client, concurrency: 1, limiter: new RateLimiter({ requestsPerMinute: null, tokensPerMinute: null }), maxRetries: 0, backoff: { initialMs: 1, maxMs: 1 }, timeoutMs: 1000, meter, fatalHint: () => '' }).complete(ask('x'), 1);
      assert.equal(r.kind, 'answer');
    } finally {
      await keyed.close();
    }
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const slow = await startOpenAICompatibleServer({ faults: { latencyMs: 20 }, lifetimeMs: 60_000, script: () => { inFlight++; peak = Math.max(peak, inFlight); setTimeout(() => inFlight--, 20); return 'ok'; } });
    try {
      const { client } = createOpenAIClient({ base_url: slow.url, api_key_env: 'K' }, 'p.yaml', {});
      const meter = new UsageMeter('m', 'openai', undefined);
      const c = new ChatCaller({ client, concurrency: 5, limiter: new RateLimiter({ requestsPerMinute: null, tokensPerMinute: null }), maxRetries: 0, backoff: { initialMs: 1, maxMs: 1 }, timeoutMs: 5000, meter, fatalHint: () => '' });
      await Promise.all(Array.from({ length: 40 }, (_, i) => c.complete(ask(`q${i}`), 1)));
      assert.equal(meter.answers, 40);
      assert.ok(peak <= 5 && peak >= 4, `peak ${peak}`);
    } finally {
      await slow.close();
    }
  });

  it('refuses to start against api.openai.com without a key, naming the variable', () => {
    assert.throws(
      () => createOpenAIClient({ base_url: null, api_key_env: 'MY_KEY' }, 'p.yaml', {}),
      (e: unknown) => /p\.yaml stages\.intents\.api_key_env: the environment variable MY_KEY is not set/.test((e as Error).message),
    );
  });
});
