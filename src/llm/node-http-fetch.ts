import http from 'node:http';
import https from 'node:https';

type FetchFn = typeof fetch;

const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** A response body past its cap: the connection is dropped there, nothing more is read. */
export class ResponseTooLargeError extends Error {
  constructor(
    readonly url: string,
    readonly limitBytes: number,
    readonly announcedBytes: number | null,
  ) {
    super(
      `the response to ${url} is larger than ${formatBytes(limitBytes)}` +
        (announcedBytes === null ? ' (cut off there)' : ` (Content-Length ${formatBytes(announcedBytes)}; not read)`) +
        '; that is no answer to this request: check that the URL points at an OpenAI-compatible server',
    );
    this.name = 'ResponseTooLargeError';
  }
}

function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${Math.round((n / (1 << 20)) * 10) / 10} MiB` : `${n} bytes`;
}

export interface NodeHttpFetchOptions {
  maxSockets?: number;
  /** Largest response body accepted for a URL; a larger one is cut off (default: no cap). */
  maxResponseBytes?: (url: URL) => number;
}

/** The built-in fetch's body, read up to the cap. */
async function capped(res: Response, url: string, limit: number): Promise<Response> {
  const announced = Number(res.headers.get('content-length') ?? NaN);
  if (announced > limit) {
    await res.body?.cancel();
    throw new ResponseTooLargeError(url, limit, announced);
  }
  if (!res.body || NULL_BODY.has(res.status)) return res;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new ResponseTooLargeError(url, limit, null);
    }
    chunks.push(value);
  }
  return new Response(Buffer.concat(chunks), { status: res.status, statusText: res.statusText, headers: res.headers });
}

/**
 * A fetch for the openai client over node:http with keep-alive agents, for JSON requests.
 * Node's built-in fetch costs about half a millisecond of CPU per request in stream and
 * header plumbing, which caps one process near 1,500 requests/s; this path costs about a
 * third less. Bodies that are not a string or bytes (multipart file uploads) go to the
 * built-in fetch. Responses are read whole (the client parses JSON), so each is capped: a
 * broken or hostile server cannot make the process buffer 600 MB.
 */
export function nodeHttpFetch(o: NodeHttpFetchOptions = {}): FetchFn {
  const maxSockets = o.maxSockets ?? 1024;
  const limitFor = o.maxResponseBytes ?? (() => Infinity);
  const agents = { 'http:': new http.Agent({ keepAlive: true, maxSockets }), 'https:': new https.Agent({ keepAlive: true, maxSockets }) };
  const f = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const body = init.body;
    if (input instanceof Request || (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array))) {
      const u = input instanceof Request ? input.url : String(input);
      const limit = limitFor(new URL(u));
      return fetch(input, init).then((res) => (limit === Infinity ? res : capped(res, u, limit)));
    }
    const url = new URL(String(input));
    const limit = limitFor(url);
    const lib = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    if (typeof body === 'string' || body instanceof Uint8Array) headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
    return new Promise<Response>((resolve, reject) => {
      const req = lib.request(url, { method: init.method ?? 'GET', headers, agent: agents[url.protocol as 'http:' | 'https:'], signal: init.signal ?? undefined }, (res) => {
        const announced = Number(res.headers['content-length'] ?? NaN);
        // Dropping the socket is the only way to stop a server that keeps sending; the agent opens a new one.
        const tooLarge = (e: ResponseTooLargeError) => {
          reject(e);
          req.destroy();
        };
        if (announced > limit) return tooLarge(new ResponseTooLargeError(url.href, limit, announced));
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > limit) return tooLarge(new ResponseTooLargeError(url.href, limit, null));
          chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => {
          if (size > limit) return;
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
