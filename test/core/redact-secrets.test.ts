import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, it } from 'node:test';
import { writeFileAtomic } from '../../src/core/atomic.js';
import { createLogger } from '../../src/core/logger.js';
import { clearSecrets, redactSecrets, registerEnvironmentSecrets, registerSecret } from '../../src/core/redact-secrets.js';
import { ResponseCache } from '../../src/llm/response-cache.js';
import { tempDir } from '../helpers.js';

describe('secret redaction', () => {
  afterEach(() => clearSecrets());

  it('replaces every registered secret, as written, JSON-escaped and URL-encoded, by the name of where it came from', () => {
    registerSecret('sk-abc"def\\ghi/jkl', 'OPENAI_API_KEY');
    const raw = 'key sk-abc"def\\ghi/jkl here';
    assert.equal(redactSecrets(raw), 'key [redacted OPENAI_API_KEY] here');
    assert.equal(redactSecrets(JSON.stringify({ m: raw })), '{"m":"key [redacted OPENAI_API_KEY] here"}');
    assert.equal(redactSecrets(`?k=${encodeURIComponent('sk-abc"def\\ghi/jkl')}`), '?k=[redacted OPENAI_API_KEY]');
    assert.equal(redactSecrets('nothing secret'), 'nothing secret');
  });

  it('reads HF_TOKEN, HUGGING_FACE_HUB_TOKEN and OPENAI_API_KEY from the environment; ignores secrets too short to tell from text', () => {
    registerEnvironmentSecrets({ HF_TOKEN: 'hf_abcdefghijklmnop', HUGGING_FACE_HUB_TOKEN: 'hf_zyxwvutsrqponm', OPENAI_API_KEY: 'sk-0123456789' });
    assert.equal(redactSecrets('hf_abcdefghijklmnop hf_zyxwvutsrqponm sk-0123456789'), '[redacted HF_TOKEN] [redacted HUGGING_FACE_HUB_TOKEN] [redacted OPENAI_API_KEY]');
    assert.equal(registerSecret('test', 'K'), false);
    assert.equal(redactSecrets('a test'), 'a test');
  });

  it('every writer goes through it: text and --json logs, atomic files, the response cache', async () => {
    const secret = 'sk-live-0123456789abcdef';
    registerSecret(secret, 'MY_KEY');
    let out = '';
    const stream = new PassThrough();
    stream.on('data', (d: Buffer) => (out += d.toString()));
    createLogger({ stream }).warn('e', `server said: bad key ${secret}`);
    createLogger({ stream, json: true }).info('e', 'm', { body: { error: `bad key ${secret}` } });
    const dir = tempDir();
    await writeFileAtomic(join(dir, 'marker.json'), JSON.stringify({ note: secret }));
    const cache = await ResponseCache.open(join(dir, 'responses.jsonl'));
    cache.put('a', { kind: 'rejected', message: `HTTP 401: ${secret}` });
    cache.put('b', { kind: 'answer', text: `echo ${secret}`, promptTokens: 1, completionTokens: 1 });
    assert.deepEqual(cache.get('b'), { kind: 'answer', text: 'echo [redacted MY_KEY]', promptTokens: 1, completionTokens: 1 });
    await cache.close();
    for (const text of [out, readFileSync(join(dir, 'marker.json'), 'utf8'), readFileSync(join(dir, 'responses.jsonl'), 'utf8')]) {
      assert.ok(!text.includes(secret), text);
      assert.match(text, /\[redacted MY_KEY\]/);
    }
  });
});
