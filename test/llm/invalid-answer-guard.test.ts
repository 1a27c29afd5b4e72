import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { IntentRequestBuilder } from '../../src/llm/intent-request-builder.js';
import { loadIntentPrompt } from '../../src/llm/intent-prompt.js';
import { InvalidAnswerGuard } from '../../src/llm/invalid-answer-guard.js';
import { ResponseCache } from '../../src/llm/response-cache.js';
import { resolveIntent } from '../../src/stages/intents/resolve-intent.js';
import { INTENT_PREFIX } from '../../src/stages/intents/template-intent.js';
import { tempDir } from '../helpers.js';
import { PROMPT_V1 } from './llm-fixtures.js';

describe('the invalid-answer guard', () => {
  it('does not fire before its window is full, then fires when more than the fraction of the window is bad', () => {
    const g = new InvalidAnswerGuard({ maxFraction: 0.5, window: 10 });
    for (let i = 0; i < 9; i++) g.record(false, `nonsense ${i}`);
    assert.equal(g.check(), null, 'nine bad of nine: below the minimum sample');
    g.record(false, 'nonsense 9');
    assert.deepEqual(g.check(), { bad: 10, looked: 10, last: 'nonsense 9', rule: 'window' });
  });

  it('looks at the most recent conversations only: a good start does not hide a later breakage, exactly half does not fire', () => {
    const g = new InvalidAnswerGuard({ maxFraction: 0.5, window: 10 });
    for (let i = 0; i < 1000; i++) g.record(true);
    for (let i = 0; i < 5; i++) g.record(false, 'x');
    assert.equal(g.check(), null, '5 of 10 is not more than half');
    g.record(false, 'y');
    assert.equal(g.check()?.bad, 6);
  });

  it('a few bad conversations among good ones never fire it', () => {
    const g = new InvalidAnswerGuard({ maxFraction: 0.5, window: 10 });
    for (let i = 0; i < 1000; i++) {
      g.record(i % 3 !== 0, 'bad');
      assert.equal(g.check(), null);
    }
    assert.equal(g.checkAtEnd(667), null);
  });

  it('at the end, fires on any sample when nothing would be kept, and only then', () => {
    const g = new InvalidAnswerGuard({ maxFraction: 0.5, window: 50 });
    g.record(false, 'HTTP error: 400');
    g.record(false, 'HTTP error: 400 again');
    assert.equal(g.check(), null);
    assert.deepEqual(g.checkAtEnd(0), { bad: 2, looked: 2, last: 'HTTP error: 400 again', rule: 'nothing_kept' });
    assert.equal(g.checkAtEnd(1), null, 'one conversation kept');
    assert.equal(new InvalidAnswerGuard({ maxFraction: 0.5, window: 50 }).checkAtEnd(0), null, 'an empty input is no endpoint failure');
  });

  it('over everything it saw (a batch round), once it saw a full window, whatever the order', () => {
    const g = new InvalidAnswerGuard({ maxFraction: 0.5, window: 10 });
    for (let i = 0; i < 9; i++) g.record(false, 'x');
    assert.equal(g.checkAll(), null, 'below the minimum sample');
    for (let i = 0; i < 20; i++) g.record(true);
    for (let i = 0; i < 10; i++) g.record(false, 'z');
    assert.ok(g.check(), 'the last ten are all bad');
    assert.equal(g.checkAll(), null, '19 of 39 is not more than half');
    g.record(false, 'last');
    assert.equal(g.checkAll(), null, '20 of 40 neither');
    g.record(false, 'last');
    assert.deepEqual(g.checkAll(), { bad: 21, looked: 41, last: 'last', rule: 'all' });
  });

  it('max_invalid_fraction 1 turns it off', () => {
    const g = new InvalidAnswerGuard({ maxFraction: 1, window: 2 });
    for (let i = 0; i < 10; i++) g.record(false, 'x');
    assert.equal(g.check(), null);
    assert.equal(g.checkAtEnd(0), null);
  });
});

describe('resolving a conversation from the cache', () => {
  const bounds = { prefix: INTENT_PREFIX, minChars: 70, maxChars: 800 };
  const valid = `${INTENT_PREFIX} get a birthday party planned for a seven-year-old on a small budget.`;

  async function setup() {
    const prompt = await loadIntentPrompt(PROMPT_V1, INTENT_PREFIX, 'test');
    const builder = new IntentRequestBuilder(prompt, { model: 'm', temperature: 0, retryTemperature: 0.7, maxTokens: 120, assistantMaxChars: 1500, userMaxChars: 4000, conversationMaxChars: 12000, endpoint: 'http://127.0.0.1:1/v1' });
    const rendered = builder.render([{ role: 'user', content: 'help me plan a party' }, { role: 'assistant', content: 'sure' }]);
    return { builder, rendered, path: join(tempDir(), 'responses.jsonl') };
  }

  it('an invalid or refused answer from an earlier run is asked again; one from this run counts; a valid one is final either way', async () => {
    const { builder, rendered, path } = await setup();
    const first = await ResponseCache.open(path);
    first.put(builder.key(rendered, 0), { kind: 'answer', text: 'Sure! Here is an intent.', promptTokens: 1, completionTokens: 1 });
    first.put(builder.key(rendered, 1), { kind: 'rejected', message: 'HTTP 400: too long' });
    // In the process that received them they settle the conversation (attempt 2 is next, then a drop).
    assert.deepEqual(resolveIntent(first, builder, rendered, bounds, 1), { status: 'drop', reason: 'intent_rejected', cacheHits: 2, invalid: 1 });
    await first.close();

    const later = await ResponseCache.open(path);
    const r = resolveIntent(later, builder, rendered, bounds, 1);
    assert.deepEqual(r, { status: 'need', attempt: 0, key: builder.key(rendered, 0), cacheHits: 0, invalid: 0 }, 'the old invalid answer is not replayed as final');
    later.put(builder.key(rendered, 0), { kind: 'answer', text: valid, promptTokens: 1, completionTokens: 1 });
    assert.deepEqual(resolveIntent(later, builder, rendered, bounds, 1), { status: 'intent', intent: valid, cacheHits: 1, invalid: 0 });
    await later.close();

    const third = await ResponseCache.open(path);
    assert.deepEqual(resolveIntent(third, builder, rendered, bounds, 1), { status: 'intent', intent: valid, cacheHits: 1, invalid: 0 }, 'a cached valid answer is final');
    await third.close();
  });

  it('a stale refusal at a later attempt is asked again at that attempt', async () => {
    const { builder, rendered, path } = await setup();
    const first = await ResponseCache.open(path);
    first.put(builder.key(rendered, 0), { kind: 'answer', text: 'nope', promptTokens: 1, completionTokens: 1 });
    first.put(builder.key(rendered, 1), { kind: 'rejected', message: 'HTTP 400' });
    await first.close();
    const later = await ResponseCache.open(path);
    later.put(builder.key(rendered, 0), { kind: 'answer', text: 'still nope', promptTokens: 1, completionTokens: 1 });
    assert.deepEqual(resolveIntent(later, builder, rendered, bounds, 1), { status: 'need', attempt: 1, key: builder.key(rendered, 1), cacheHits: 1, invalid: 1 });
    await later.close();
  });
});
