import http from 'node:http';
import https from 'node:https';

type FetchFn = typeof fetch;

const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * A fetch for the openai client over node:http with keep-alive agents, for JSON requests.
 * Node's built-in fetch costs about half a millisecond of CPU per request in stream and
 * header plumbing, which caps one process near 1,500 requests/s; this path costs about a
 * third less. Bodies that are not a string or bytes (multipart file uploads) go to the
 * built-in fetch.
 */
export function nodeHttpFetch(maxSockets = 1024): FetchFn {
  const agents = { 'http:': new http.Agent({ keepAlive: true, maxSockets }), 'https:': new https.Agent({ keepAlive: true, maxSockets }) };
  const f = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const body = init.body;
    if (input instanceof Request || (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array))) return fetch(input, init);
    const url = new URL(String(input));
    const lib = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    if (typeof body === 'string' || body instanceof Uint8Array) headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
    return new Promise<Response>((resolve, reject) => {
      const req = lib.request(url, { method: init.method ?? 'GET', headers, agent: agents[url.protocol as 'http:' | 'https:'], signal: init.signal ?? undefined }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const h = new Headers();
          for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          const status = res.statusCode ?? 0;
          resolve(new Response(NULL_BODY.has(status) ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage ?? '', headers: h }));
        });
      });
      req.on('error', reject);
      req.end(body ?? undefined);
    });
  };
  return f as FetchFn;
}
