import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { nodeHttpFetch } from '../../src/llm/node-http-fetch.js';

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
});
