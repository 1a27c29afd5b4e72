import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/core/errors.js';
import { BatchInputWriter } from '../../src/llm/batch-input-writer.js';
import { IntentRequestBuilder, type IntentRequestParams } from '../../src/llm/intent-request-builder.js';
import { loadIntentPrompt } from '../../src/llm/intent-prompt.js';
import { RateLimiter } from '../../src/llm/rate-limiter.js';
import { clipText, renderConversation } from '../../src/llm/render-conversation.js';
import { ResponseCache } from '../../src/llm/response-cache.js';
import { retryAfterMs, retryDelayMs } from '../../src/llm/retry-delay.js';
import { validateIntent } from '../../src/llm/validate-intent.js';
import { INTENT_PREFIX } from '../../src/stages/intents/template-intent.js';
import { tempDir } from '../helpers.js';
import { PROMPT_V1 } from './llm-fixtures.js';

const PARAMS: IntentRequestParams = { model: 'gpt-4o', temperature: 0, retryTemperature: 0.7, maxTokens: 120, assistantMaxChars: 200, userMaxChars: 400, conversationMaxChars: 2000, endpoint: 'http://127.0.0.1:8000/v1' };
const bounds = { prefix: INTENT_PREFIX, minChars: 70, maxChars: 300 };

describe('rendering a conversation for the prompt', () => {
  it('keeps head and tail of a long turn and says how much was left out', () => {
    const text = 'A'.repeat(600) + 'Z'.repeat(400);
    const clipped = clipText(text, 200);
    assert.ok(clipped.length <= 200, `${clipped.length}`);
    assert.match(clipped, /^A+ \[\.\.\. \d+ characters left out \.\.\.\] Z+$/);
    const left = Number(/(\d+) characters/.exec(clipped)![1]);
    assert.equal(clipped.replace(/ \[.*\] /, '').length + left, 1000);
    assert.equal(clipText('short', 200), 'short');
  });

  it('cuts assistant turns to their budget and user turns to theirs', () => {
    const r = renderConversation([{ role: 'user', content: 'u'.repeat(300) }, { role: 'assistant', content: 'a'.repeat(300) }], PARAMS);
    assert.ok(r.includes('u'.repeat(300)), 'a user turn within its budget stays whole');
    assert.ok(!r.includes('a'.repeat(200)) && r.includes('characters left out'));
    assert.ok(r.startsWith('[user]\n') && r.includes('\n\n[assistant]\n'));
  });

  it('leaves out middle turns past the conversation budget, keeping the opening and the end', () => {
    const turns = Array.from({ length: 40 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i} `.repeat(15) }));
    const r = renderConversation(turns, PARAMS);
    assert.ok(r.length <= PARAMS.conversationMaxChars + 60, `${r.length}`);
    assert.ok(r.includes('turn 0 ') && r.includes('turn 39 '));
    assert.match(r, /\[\.\.\. \d+ turns left out \.\.\.\]/);
  });
});

describe('validating an answer', () => {
  it('accepts the format, tidies whitespace and wrapping quotes', () => {
    const good = `${INTENT_PREFIX} plan a weekend trip on a tight budget.`;
    assert.deepEqual(validateIntent(`  "${good}\n" `, bounds), { ok: true, intent: good });
    assert.deepEqual(validateIntent(`${INTENT_PREFIX}\n  plan a weekend trip on a tight budget.`, bounds), { ok: true, intent: good });
  });

  it('rejects a wrong prefix, empty, too short and too long answers', () => {
    assert.equal(validateIntent('Sure! Here is the intent: ...', bounds).ok, false);
    assert.deepEqual(validateIntent('', bounds), { ok: false, problem: 'empty answer' });
    assert.deepEqual(validateIntent(null, bounds), { ok: false, problem: 'empty answer' });
    assert.deepEqual(validateIntent(`${INTENT_PREFIX} go.`, bounds), { ok: false, problem: 'shorter than 70 characters' });
    assert.deepEqual(validateIntent(`${INTENT_PREFIX} ${'very '.repeat(60)}long.`, bounds), { ok: false, problem: 'longer than 300 characters' });
  });
});

describe('retry delays', () => {
  const h = (o: Record<string, string>) => new Headers(o);
  it('honours retry-after-ms, Retry-After seconds and dates', () => {
    assert.equal(retryAfterMs(h({ 'retry-after-ms': '250' })), 250);
    assert.equal(retryAfterMs(h({ 'retry-after': '3' })), 3000);
    const now = Date.parse('2025-01-01T00:00:00Z');
    assert.equal(retryAfterMs(h({ 'retry-after': 'Wed, 01 Jan 2025 00:00:07 GMT' }), now), 7000);
    assert.equal(retryAfterMs(h({})), null);
    assert.equal(retryDelayMs(5, h({ 'retry-after': '2' }), { initialMs: 100, maxMs: 1000 }), 2000, 'the server knows better than our cap');
  });

  it('backs off exponentially with jitter within [base/2, base], capped', () => {
    const o = { initialMs: 100, maxMs: 1000 };
    assert.equal(retryDelayMs(0, undefined, o, () => 0), 50);
    assert.equal(retryDelayMs(0, undefined, o, () => 1), 100);
    assert.equal(retryDelayMs(2, undefined, o, () => 1), 400);
    assert.equal(retryDelayMs(10, undefined, o, () => 1), 1000);
    const spread = new Set(Array.from({ length: 20 }, (_, i) => retryDelayMs(3, undefined, o, () => i / 20)));
    assert.equal(spread.size, 20, 'jitter spreads clients apart');
  });
});

describe('the rate limiter', () => {
  function fakeClock() {
    let t = 0;
    return { now: () => t, sleep: async (ms: number) => void (t += ms), at: () => t };
  }

  it('paces requests to requests_per_minute after a one-second burst', async () => {
    const c = fakeClock();
    const rl = new RateLimiter({ requestsPerMinute: 600, tokensPerMinute: null, now: c.now, sleep: c.sleep });
    for (let i = 0; i < 70; i++) await rl.acquire(1);
    // 10/s: a burst of 10, then 60 more at 100 ms each.
    assert.ok(c.at() >= 5900 && c.at() <= 6100, `${c.at()}`);
  });

  it('paces tokens_per_minute, lets an oversized request through in debt, and takes refunds', async () => {
    const c = fakeClock();
    const rl = new RateLimiter({ requestsPerMinute: null, tokensPerMinute: 60_000, now: c.now, sleep: c.sleep });
    await rl.acquire(5000); // 1000 tokens/s bucket: waits for none, goes 4000 in debt
    assert.equal(c.at(), 0);
    await rl.acquire(1000);
    assert.ok(c.at() >= 4900 && c.at() <= 5100, `${c.at()}`);
    rl.adjust(-1000); // the real usage was lower
    const before = c.at();
    await rl.acquire(1000);
    assert.equal(c.at(), before, 'the refund paid for the next request');
  });

  it('holds everyone during a pause (a 429 speaks for the whole account)', async () => {
    const c = fakeClock();
    const rl = new RateLimiter({ requestsPerMinute: null, tokensPerMinute: null, now: c.now, sleep: c.sleep });
    await rl.acquire(1);
    rl.pauseFor(750);
    await rl.acquire(1);
    assert.ok(c.at() >= 750, `${c.at()}`);
  });
});

describe('the response cache', () => {
  it('persists answers and refusals, and survives a torn last line', async () => {
    const dir = tempDir();
    const path = join(dir, 'cache', 'responses.jsonl');
    const c1 = await ResponseCache.open(path);
    c1.put('k1', { kind: 'answer', text: 'hello', promptTokens: 10, completionTokens: 2 });
    c1.put('k2', { kind: 'rejected', message: 'HTTP 400: too long' });
    c1.put('k3', { kind: 'answer', text: null, promptTokens: 1, completionTokens: 0 });
    assert.ok(c1.isFresh('k1'));
    await c1.close();
    appendFileSync(path, '{"k":"k4","t":"half a li'); // a kill in the middle of a write
    const c2 = await ResponseCache.open(path);
    assert.equal(c2.size, 3);
    assert.deepEqual(c2.get('k1'), { kind: 'answer', text: 'hello', promptTokens: 10, completionTokens: 2 });
    assert.deepEqual(c2.get('k2'), { kind: 'rejected', message: 'HTTP 400: too long' });
    assert.equal(c2.isFresh('k1'), false);
    c2.put('k5', { kind: 'answer', text: 'after', promptTokens: 1, completionTokens: 1 });
    await c2.close();
    const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, 4, 'the torn line is gone and the next entry starts on its own line');
    assert.deepEqual((await ResponseCache.open(path)).get('k5'), { kind: 'answer', text: 'after', promptTokens: 1, completionTokens: 1 });
  });
});

describe('the prompt and the request', () => {
  it('ships a v1 prompt with three worked examples in the required format', async () => {
    const p = await loadIntentPrompt(PROMPT_V1, INTENT_PREFIX, 'test');
    assert.equal(p.examples.length, 3);
    for (const ex of p.examples) assert.equal(validateIntent(ex.intent, { prefix: INTENT_PREFIX, minChars: 70, maxChars: 800 }).ok, true, ex.intent);
    assert.ok(p.system.includes(INTENT_PREFIX));
  });

  it('reports every problem of a bad prompt file, naming it', async () => {
    const dir = tempDir();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'id: x\nversion: 0\nsystem: ""\nexamples:\n  - messages: [{role: user}]\n    intent: Hello\nuser_template: no placeholder\n');
    await assert.rejects(loadIntentPrompt(file, INTENT_PREFIX, 'p.yaml'), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const m = e.message;
      for (const want of ['system: must be a non-empty string', 'user_template: must contain {conversation}', 'version: must be a whole number', 'examples[0].messages', 'examples[0].intent: must start with']) {
        assert.ok(m.includes(want), `${want} in\n${m}`);
      }
      assert.ok(m.includes(file));
      return true;
    });
  });

  it('keys a request by endpoint, model, prompt, parameters, conversation and attempt, and nothing else', async () => {
    const p = await loadIntentPrompt(PROMPT_V1, INTENT_PREFIX, 'test');
    const b = new IntentRequestBuilder(p, PARAMS);
    const r = b.render([{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }]);
    const k = b.key(r, 0);
    assert.match(k, /^[0-9a-f]{64}$/);
    assert.equal(new IntentRequestBuilder(p, { ...PARAMS }).key(r, 0), k, 'stable');
    assert.notEqual(b.key(r, 1), k);
    assert.notEqual(b.key(r + ' ', 0), k);
    assert.notEqual(new IntentRequestBuilder(p, { ...PARAMS, model: 'gpt-4o-mini' }).key(r, 0), k);
    assert.notEqual(new IntentRequestBuilder(p, { ...PARAMS, endpoint: 'http://127.0.0.1:8001/v1' }).key(r, 0), k, 'another server may answer otherwise');
    assert.notEqual(new IntentRequestBuilder(p, { ...PARAMS, maxTokens: 100 }).key(r, 0), k);
    assert.notEqual(new IntentRequestBuilder({ ...p, version: 2 }, PARAMS).key(r, 0), k);
    assert.notEqual(new IntentRequestBuilder({ ...p, sha256: 'x' }, PARAMS).key(r, 0), k);

    const first = b.body(r, 0);
    assert.equal(first.model, 'gpt-4o');
    assert.equal(first.messages.length, 1 + 2 * 3 + 1, 'system, three worked examples, the conversation');
    assert.equal(first.temperature, 0);
    assert.equal(first.seed, undefined);
    const retry = b.body(r, 2);
    assert.equal(retry.temperature, 0.7);
    assert.equal(retry.seed, 2, 'a retry differs from the ask that got an invalid answer');
  });
});

describe('batch input files', () => {
  const body = (model: string, text: string) => ({ model, messages: [{ role: 'user' as const, content: text }] });

  it('rolls over at the request limit, the byte limit, and a change of model', () => {
    const dir = tempDir();
    const w = new BatchInputWriter({ dir, prefix: 'in', maxRequests: 3, maxBytes: 1000 });
    for (let i = 0; i < 7; i++) w.add(`id${i}`, body('m1', 'x'));
    w.add('big1', body('m1', 'y'.repeat(500)));
    w.add('big2', body('m1', 'y'.repeat(500)));
    w.add('other', body('m2', 'z'));
    const files = w.finish();
    assert.deepEqual(files.map((f) => [f.requests, f.model]), [[3, 'm1'], [3, 'm1'], [2, 'm1'], [1, 'm1'], [1, 'm2']]);
    for (const f of files) {
      const text = readFileSync(join(dir, f.name), 'utf8');
      assert.equal(Buffer.byteLength(text), f.bytes);
      assert.ok(f.bytes <= 1000);
      const lines = text.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines.length, f.requests);
      for (const l of lines) {
        assert.equal(l.method, 'POST');
        assert.equal(l.url, '/v1/chat/completions');
        assert.equal(l.body.model, f.model);
      }
    }
  });
});
