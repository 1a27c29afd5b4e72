import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { nodeHttpFetch, ResponseTooLargeError } from '../../src/llm/node-http-fetch.js';
import { maxResponseBytes, MAX_FILE_CONTENT_BYTES, MAX_RESPONSE_BYTES } from '../../src/llm/openai-client.js';

describe('the node:http fetch used by the openai client', () => {
  it('sends method, headers and body; returns status, repeated headers and the body; handles 204; aborts', async () => {
    const seen: { method?: string; auth?: string; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, auth: req.headers['authorization'], body });
        if (req.url === '/empty') return res.writeHead(204).end();
        if (req.url === '/slow') return void setTimeout(() => res.end('late'), 2000);
        res.writeHead(429, [['retry-after', '2'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['content-type', 'application/json']]);
        res.end('{"error":{"message":"slow down"}}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const f = nodeHttpFetch();
      const r = await f(`${base}/x`, { method: 'POST', headers: { authorization: 'Bearer k', 'content-type': 'application/json' }, body: '{"a":"é"}' });
      assert.equal(r.status, 429);
      assert.equal(r.headers.get('retry-after'), '2');
      assert.equal(r.headers.get('set-cookie'), 'a=1, b=2');
      assert.deepEqual(await r.json(), { error: { message: 'slow down' } });
      assert.deepEqual(seen[0], { method: 'POST', auth: 'Bearer k', body: '{"a":"é"}' });
      const e = await f(`${base}/empty`, { method: 'DELETE' });
      assert.equal(e.status, 204);
      assert.equal(await e.text(), '');
      await assert.rejects(f(`${base}/slow`, { signal: AbortSignal.timeout(50) }), (err: Error) => err.name === 'AbortError' || err.name === 'TimeoutError');
      // Multipart bodies (file uploads) go through the built-in fetch.
      const form = new FormData();
      form.append('purpose', 'batch');
      const m = await f(`${base}/upload`, { method: 'POST', body: form });
      assert.equal(m.status, 429);
      assert.match(seen[seen.length - 1]!.body, /name="purpose"/);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('caps response bodies: refuses an announced oversize without reading it, and hangs up on an endless chunked body', async () => {
    let streamed = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/announced') {
          res.writeHead(200, { 'content-length': String(600 << 20) });
          return res.write(Buffer.alloc(1024));
        }
        if (req.url === '/exact') return res.end(Buffer.alloc(1000, 0x61));
        // Endless and chunked: only hanging up stops it.
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = () => {
          while (!res.destroyed) {
            streamed += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
        };
        pump();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const f = nodeHttpFetch({ maxResponseBytes: () => 1000 });
      const tooLarge = (announced: number | null) => (e: unknown) => e instanceof ResponseTooLargeError && e.limitBytes === 1000 && e.announcedBytes === announced;
      await assert.rejects(f(`${base}/announced`, { method: 'POST', body: '{}' }), tooLarge(600 << 20));
      await assert.rejects(f(`${base}/endless`, { method: 'POST', body: '{}' }), tooLarge(null));
      await new Promise((r) => setTimeout(r, 100));
      const sentAfterHangUp = streamed;
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(streamed, sentAfterHangUp, 'the server stopped sending: the socket is closed');
      assert.ok(streamed < 64 << 20, `${streamed} bytes sent before the hang-up`);
      assert.equal((await (await f(`${base}/exact`, { method: 'POST', body: '{}' })).text()).length, 1000, 'a body of exactly the cap is accepted');
      // The multipart path (built-in fetch) has the same cap.
      const form = new FormData();
      form.append('purpose', 'batch');
      await assert.rejects(f(`${base}/endless`, { method: 'POST', body: form }), tooLarge(null));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('allows batch result files far more than chat answers', () => {
    assert.equal(maxResponseBytes(new URL('http://h/v1/chat/completions')), MAX_RESPONSE_BYTES);
    assert.equal(maxResponseBytes(new URL('http://h/v1/files/file-abc/content')), MAX_FILE_CONTENT_BYTES);
    assert.equal(maxResponseBytes(new URL('http://h/v1/files/file-abc')), MAX_RESPONSE_BYTES);
  });
});
