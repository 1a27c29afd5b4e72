// A local OpenAI-compatible server for tests and benchmarks: chat completions, files and
// batches, with faults injected deterministically (a hash of the request and how often it
// was seen decides), so that runs are repeatable. Listens on 127.0.0.1 only, caps the
// requests it serves and closes itself after a lifetime, so a forgotten server cannot linger.
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const INTENT_PREFIX = 'You are a user chatting with an assistant language model to';
/** A conversation containing this always gets an invalid answer (to exercise intent_invalid). */
export const ALWAYS_INVALID = 'ALWAYS_INVALID';

export interface ServerFaults {
  /** Delay before every chat answer. */
  latencyMs: number;
  /** Extra delay of a 'slow' answer. */
  slowMs: number;
  /** Shares of chat requests answered with 429 (with Retry-After), 500, never (a hang), or a body that is not JSON. */
  rateLimitShare: number;
  serverErrorShare: number;
  hangShare: number;
  malformedShare: number;
  /** Shares of answers whose content is not a valid intent, or empty. */
  invalidShare: number;
  emptyShare: number;
  /** Sent with 429s: Retry-After in seconds and retry-after-ms (null: leave out). */
  retryAfterSeconds: number | null;
  retryAfterMs: number | null;
  /** How long a batch takes from creation to completion. */
  batchDelayMs: number;
  /** While true no batch completes, whatever its delay (a test releases them when it is ready). */
  holdBatches: boolean;
  /** The first n batches end as expired, with this share of their requests not done. */
  expireFirstBatches: number;
  expiredShare: number;
}

export const NO_FAULTS: ServerFaults = {
  latencyMs: 0,
  slowMs: 300,
  rateLimitShare: 0,
  serverErrorShare: 0,
  hangShare: 0,
  malformedShare: 0,
  invalidShare: 0,
  emptyShare: 0,
  retryAfterSeconds: null,
  retryAfterMs: 5,
  batchDelayMs: 50,
  holdBatches: false,
  expireFirstBatches: 0,
  expiredShare: 0,
};

export interface ServerStats {
  chatRequests: number;
  answered: number;
  /** Distinct request bodies sent again after the server had answered them: money paid twice. */
  resentAfterAnswer: number;
  rateLimited: number;
  serverErrors: number;
  hung: number;
  /** Connections destroyed without an answer ('reset'). */
  reset: number;
  malformed: number;
  invalid: number;
  empty: number;
  filesUploaded: number;
  batchesCreated: number;
  batchRequestsAnswered: number;
  batchRequestsExpired: number;
  /** Batch requests (by custom_id and body) answered more than once. */
  batchResentAfterAnswer: number;
  /** Requests refused because the server reached its request cap. */
  refused: number;
  /** Bytes of 'huge' bodies actually sent before the client hung up. */
  hugeBytesSent: number;
  /** performance.now() of the first chat request and of the last chat answer (throughput window). */
  firstRequestAt: number | null;
  lastAnsweredAt: number | null;
}

/**
 * huge: a 200 whose body goes on for 600 MB (sent in chunks while the client reads; it stops when the client hangs up).
 * invalid: a 200 whose content is not an intent. slow: a good answer after faults.slowMs.
 * reset: the connection is destroyed without an answer (ECONNRESET at the client).
 */
export type Fate = 'ok' | 'rate_limit' | 'server_error' | 'hang' | 'malformed' | 'bad_request' | 'huge' | 'invalid' | 'slow' | 'reset';

export const HUGE_BODY_BYTES = 600 * 1024 * 1024;

export interface ServerOptions {
  faults?: Partial<ServerFaults>;
  /** Close after this long whatever happens (default 10 minutes). */
  lifetimeMs?: number;
  /** Serve at most this many HTTP requests (default 2,000,000), then answer 503. */
  maxRequests?: number;
  /** Called after each answered chat request (tests use it to kill a client mid-run). */
  onAnswered?: (answered: number) => void;
  onBatchCreated?: (created: number) => void;
  /** Called on every batch status poll, with how many polls the server has seen. */
  onBatchPolled?: (polls: number) => void;
  /**
   * Decides a chat request's fate ahead of the shares: n is how often this exact body has
   * been seen (1 for the first). null leaves it to the shares.
   */
  script?: (n: number, body: ChatBody) => Fate | null;
  /** When set, requests without `Authorization: Bearer <key>` get a 401. */
  requireKey?: string;
  /**
   * A careless server: every error message and every invalid answer quotes the API key the
   * request came with (some proxies echo the request headers back).
   */
  echoKey?: boolean;
}

interface StoredFile {
  id: string;
  filename: string;
  purpose: string;
  content: Buffer;
  created_at: number;
}

interface Batch {
  id: string;
  input_file_id: string;
  endpoint: string;
  completion_window: string;
  created_at: number;
  completeAt: number;
  expire: boolean;
  status: string;
  output_file_id: string | null;
  error_file_id: string | null;
  errors: { data: { code: string; message: string }[] } | null;
  request_counts: { total: number; completed: number; failed: number };
}

export interface OpenAICompatibleServer {
  url: string;
  stats: ServerStats;
  faults: ServerFaults;
  /** Every model name seen in a chat body. */
  models: Set<string>;
  close(): Promise<void>;
}

function unit(s: string): number {
  return createHash('sha256').update(s).digest().readUInt32BE(0) / 2 ** 32;
}

function sha(s: string | Buffer): string {
  return createHash('sha256').update(s).digest('hex');
}

export interface ChatBody {
  model?: string;
  messages?: { role: string; content: string }[];
}

/** The deterministic intent this server writes for a conversation. */
export function serverIntentFor(lastUserMessage: string): string {
  return `${INTENT_PREFIX} get help with request ${sha(lastUserMessage).slice(0, 12)}.`;
}

function chatCompletion(body: ChatBody, content: string | null): Record<string, unknown> {
  const promptChars = (body.messages ?? []).reduce((a, m) => a + (typeof m.content === 'string' ? m.content.length : 0), 0);
  const completion = Math.ceil((content ?? '').length / 4);
  const prompt = Math.ceil(promptChars / 4);
  return {
    id: `chatcmpl-${randomUUID()}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: body.model ?? 'unknown',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  };
}

function answerContent(body: ChatBody, roll: number, f: ServerFaults, stats: ServerStats, echo = '', forceInvalid = false): string | null {
  const last = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user')?.content ?? '';
  if (forceInvalid || last.includes(ALWAYS_INVALID) || roll < f.invalidShare) {
    stats.invalid++;
    return `Sure! Here is the intent you asked for: the user wants help with ${sha(last).slice(0, 8)}.${echo}`;
  }
  if (roll < f.invalidShare + f.emptyShare) {
    stats.empty++;
    return '';
  }
  return serverIntentFor(last);
}

/** A JSON-looking body of HUGE_BODY_BYTES, written only as fast as the client reads it. */
function sendHuge(res: ServerResponse, stats: ServerStats): void {
  const chunk = Buffer.alloc(1 << 20, 0x20);
  // Chunked, without Content-Length: the client cannot refuse it up front, it must stop reading.
  res.writeHead(200, { 'content-type': 'application/json' });
  let sent = 0;
  const pump = () => {
    while (sent < HUGE_BODY_BYTES && !res.destroyed) {
      sent += chunk.length;
      stats.hugeBytesSent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  res.on('close', () => res.removeAllListeners('drain'));
  pump();
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

function sendApiError(res: ServerResponse, status: number, message: string, type: string, code: string | null = null, headers: Record<string, string> = {}): void {
  send(res, status, { error: { message, type, param: null, code } }, headers);
}

export async function startOpenAICompatibleServer(o: ServerOptions = {}): Promise<OpenAICompatibleServer> {
  const faults: ServerFaults = { ...NO_FAULTS, ...o.faults };
  const stats: ServerStats = {
    chatRequests: 0,
    answered: 0,
    resentAfterAnswer: 0,
    rateLimited: 0,
    serverErrors: 0,
    hung: 0,
    reset: 0,
    malformed: 0,
    invalid: 0,
    empty: 0,
    filesUploaded: 0,
    batchesCreated: 0,
    batchRequestsAnswered: 0,
    batchRequestsExpired: 0,
    batchResentAfterAnswer: 0,
    refused: 0,
    hugeBytesSent: 0,
    firstRequestAt: null,
    lastAnsweredAt: null,
  };
  const models = new Set<string>();
  const seen = new Map<string, number>();
  const answeredBodies = new Set<string>();
  const resent = new Set<string>();
  const batchAnswered = new Set<string>();
  const files = new Map<string, StoredFile>();
  const batches = new Map<string, Batch>();
  const sockets = new Set<Socket>();
  const maxRequests = o.maxRequests ?? 2_000_000;
  let served = 0;
  let batchPolls = 0;

  function storeFile(content: Buffer, filename: string, purpose: string): StoredFile {
    const f = { id: `file-${randomUUID()}`, filename, purpose, content, created_at: Math.floor(Date.now() / 1000) };
    files.set(f.id, f);
    return f;
  }

  function fileObject(f: StoredFile): Record<string, unknown> {
    return { id: f.id, object: 'file', bytes: f.content.length, created_at: f.created_at, filename: f.filename, purpose: f.purpose, status: 'processed' };
  }

  function batchObject(b: Batch): Record<string, unknown> {
    return {
      id: b.id,
      object: 'batch',
      endpoint: b.endpoint,
      errors: b.errors,
      input_file_id: b.input_file_id,
      completion_window: b.completion_window,
      status: b.status,
      output_file_id: b.output_file_id,
      error_file_id: b.error_file_id,
      created_at: b.created_at,
      request_counts: b.request_counts,
      metadata: null,
    };
  }

  /** Runs a batch to its end the first time it is looked at after its completion time. */
  function advance(b: Batch): void {
    if (b.status === 'validating') b.status = 'in_progress';
    if (b.status !== 'in_progress' || faults.holdBatches || Date.now() < b.completeAt) return;
    const input = files.get(b.input_file_id)!;
    const lines = input.content.toString('utf8').split('\n').filter((l) => l.trim());
    const out: string[] = [];
    const err: string[] = [];
    for (const [i, line] of lines.entries()) {
      const r = JSON.parse(line) as { custom_id: string; body: ChatBody };
      if (b.expire && i < Math.round(lines.length * faults.expiredShare)) {
        stats.batchRequestsExpired++;
        err.push(JSON.stringify({ id: `batch_req_${randomUUID()}`, custom_id: r.custom_id, response: null, error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' } }));
        continue;
      }
      const key = sha(JSON.stringify([r.custom_id, r.body]));
      if (batchAnswered.has(key)) stats.batchResentAfterAnswer++;
      batchAnswered.add(key);
      stats.batchRequestsAnswered++;
      const content = answerContent(r.body, unit(`${key}:batch`), faults, stats);
      out.push(JSON.stringify({ id: `batch_req_${randomUUID()}`, custom_id: r.custom_id, response: { status_code: 200, request_id: randomUUID(), body: chatCompletion(r.body, content) }, error: null }));
    }
    // Output order is not input order at the real API either.
    out.reverse();
    if (out.length) b.output_file_id = storeFile(Buffer.from(out.join('\n') + '\n'), `${b.id}_output.jsonl`, 'batch_output').id;
    if (err.length) b.error_file_id = storeFile(Buffer.from(err.join('\n') + '\n'), `${b.id}_error.jsonl`, 'batch_output').id;
    b.request_counts = { total: lines.length, completed: out.length, failed: err.length };
    b.status = b.expire ? 'expired' : 'completed';
  }

  function validateBatchInput(content: Buffer): string | null {
    if (content.length > 200_000_000) return 'input file exceeds 200 MB';
    const lines = content.toString('utf8').split('\n').filter((l) => l.trim());
    if (lines.length > 50_000) return `input file has ${lines.length} requests; the limit is 50,000`;
    const modelsInFile = new Set<string>();
    const ids = new Set<string>();
    for (const l of lines) {
      let r: { custom_id?: string; method?: string; url?: string; body?: ChatBody };
      try {
        r = JSON.parse(l);
      } catch {
        return 'invalid JSON line';
      }
      if (typeof r.custom_id !== 'string' || r.method !== 'POST' || r.url !== '/v1/chat/completions' || !r.body) return 'each line needs custom_id, method POST, url /v1/chat/completions and body';
      if (ids.has(r.custom_id)) return `duplicate custom_id ${r.custom_id}`;
      ids.add(r.custom_id);
      modelsInFile.add(String(r.body.model));
    }
    if (modelsInFile.size > 1) return 'one model per file';
    return null;
  }

  function fateByShares(roll: number): Fate {
    let edge = faults.rateLimitShare;
    if (roll < edge) return 'rate_limit';
    if (roll < (edge += faults.serverErrorShare)) return 'server_error';
    if (roll < (edge += faults.hangShare)) return 'hang';
    if (roll < (edge += faults.malformedShare)) return 'malformed';
    return 'ok';
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.replace(/^\/v1/, '');
    if (++served > maxRequests) {
      stats.refused++;
      sendApiError(res, 503, 'test server request cap reached', 'server_error');
      return;
    }
    if (o.requireKey !== undefined && req.headers['authorization'] !== `Bearer ${o.requireKey}`) {
      await readBody(req);
      return sendApiError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
    }
    const echo = o.echoKey ? ` (you sent the key ${String(req.headers['authorization'] ?? '').replace(/^Bearer /, '')})` : '';
    const apiError = (res: ServerResponse, status: number, message: string, type: string, code: string | null = null, headers: Record<string, string> = {}) =>
      sendApiError(res, status, message + echo, type, code, headers);
    if (req.method === 'POST' && path === '/chat/completions') {
      const raw = await readBody(req);
      const bodyHash = sha(raw);
      const n = (seen.get(bodyHash) ?? 0) + 1;
      seen.set(bodyHash, n);
      stats.chatRequests++;
      stats.firstRequestAt ??= performance.now();
      if (answeredBodies.has(bodyHash) && !resent.has(bodyHash)) {
        resent.add(bodyHash);
        stats.resentAfterAnswer++;
      }
      const body = JSON.parse(raw.toString('utf8')) as ChatBody;
      if (body.model) models.add(body.model);
      const fate = o.script?.(n, body) ?? fateByShares(unit(`${bodyHash}:${n}`));
      if (fate === 'rate_limit') {
        stats.rateLimited++;
        const h: Record<string, string> = {};
        if (faults.retryAfterSeconds !== null) h['retry-after'] = String(faults.retryAfterSeconds);
        if (faults.retryAfterMs !== null) h['retry-after-ms'] = String(faults.retryAfterMs);
        return apiError(res, 429, 'Rate limit reached for requests', 'requests', 'rate_limit_exceeded', h);
      }
      if (fate === 'server_error') {
        stats.serverErrors++;
        return apiError(res, 500, 'The server had an error while processing your request.', 'server_error');
      }
      if (fate === 'bad_request') return apiError(res, 400, "This model's maximum context length is exceeded.", 'invalid_request_error', 'context_length_exceeded');
      if (fate === 'hang') {
        stats.hung++;
        return; // never answered; the client's timeout ends it (or close() does)
      }
      if (fate === 'reset') {
        stats.reset++;
        req.socket.destroy();
        return;
      }
      if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
      if (fate === 'slow') await new Promise((r) => setTimeout(r, faults.slowMs));
      if (fate === 'huge') return sendHuge(res, stats);
      if (fate === 'malformed') {
        stats.malformed++;
        return send(res, 200, '{"id": "chatcmpl-broken", "choices": [');
      }
      const content = answerContent(body, unit(`${bodyHash}:${n}:answer`), faults, stats, echo, fate === 'invalid');
      const text = JSON.stringify(chatCompletion(body, content));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.end(text, () => {
        answeredBodies.add(bodyHash);
        stats.answered++;
        stats.lastAnsweredAt = performance.now();
        o.onAnswered?.(stats.answered);
      });
      return;
    }
    if (req.method === 'POST' && path === '/files') {
      const raw = await readBody(req);
      const form = await new Request('http://127.0.0.1/', { method: 'POST', headers: { 'content-type': String(req.headers['content-type']) }, body: new Uint8Array(raw) }).formData();
      const file = form.get('file');
      const purpose = String(form.get('purpose') ?? '');
      if (!file || typeof file === 'string') return apiError(res, 400, 'missing file', 'invalid_request_error');
      if (purpose !== 'batch') return apiError(res, 400, 'purpose must be batch', 'invalid_request_error');
      stats.filesUploaded++;
      return send(res, 200, fileObject(storeFile(Buffer.from(await file.arrayBuffer()), file.name, purpose)));
    }
    const fileMatch = /^\/files\/([^/]+)(\/content)?$/.exec(path);
    if (req.method === 'GET' && fileMatch) {
      const f = files.get(fileMatch[1]!);
      if (!f) return apiError(res, 404, `No such File object: ${fileMatch[1]}`, 'invalid_request_error');
      if (!fileMatch[2]) return send(res, 200, fileObject(f));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(f.content.length) });
      res.end(f.content);
      return;
    }
    if (req.method === 'POST' && path === '/batches') {
      const body = JSON.parse((await readBody(req)).toString('utf8')) as { input_file_id?: string; endpoint?: string; completion_window?: string };
      const f = body.input_file_id ? files.get(body.input_file_id) : undefined;
      if (!f) return apiError(res, 404, `No such File object: ${body.input_file_id}`, 'invalid_request_error');
      if (body.endpoint !== '/v1/chat/completions' || body.completion_window !== '24h') return apiError(res, 400, 'unsupported endpoint or completion_window', 'invalid_request_error');
      stats.batchesCreated++;
      const problem = validateBatchInput(f.content);
      const b: Batch = {
        id: `batch_${randomUUID()}`,
        input_file_id: f.id,
        endpoint: body.endpoint,
        completion_window: body.completion_window,
        created_at: Math.floor(Date.now() / 1000),
        completeAt: Date.now() + faults.batchDelayMs,
        expire: stats.batchesCreated <= faults.expireFirstBatches,
        status: problem ? 'failed' : 'validating',
        output_file_id: null,
        error_file_id: null,
        errors: problem ? { data: [{ code: 'invalid_file', message: problem }] } : null,
        request_counts: { total: 0, completed: 0, failed: 0 },
      };
      batches.set(b.id, b);
      o.onBatchCreated?.(stats.batchesCreated);
      return send(res, 200, batchObject(b));
    }
    if (req.method === 'GET' && path === '/batches') {
      // Newest first, paged with `after`, as the real API lists them.
      const all = [...batches.values()].reverse();
      const after = url.searchParams.get('after');
      const from = after ? all.findIndex((b) => b.id === after) + 1 : 0;
      const limit = Math.min(100, Number(url.searchParams.get('limit') ?? 20));
      const page = all.slice(from, from + limit);
      return send(res, 200, { object: 'list', data: page.map(batchObject), first_id: page[0]?.id ?? null, last_id: page[page.length - 1]?.id ?? null, has_more: from + limit < all.length });
    }
    const batchMatch = /^\/batches\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && batchMatch) {
      const b = batches.get(batchMatch[1]!);
      if (!b) return apiError(res, 404, `No such Batch: ${batchMatch[1]}`, 'invalid_request_error');
      o.onBatchPolled?.(++batchPolls);
      advance(b);
      return send(res, 200, batchObject(b));
    }
    apiError(res, 404, `unknown route ${req.method} ${url.pathname}`, 'invalid_request_error');
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => {
      if (!res.headersSent) sendApiError(res, 500, `test server bug: ${e.message}`, 'server_error');
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      clearTimeout(lifetime);
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
    return closed;
  };
  const lifetime = setTimeout(() => void close(), o.lifetimeMs ?? 10 * 60_000);
  lifetime.unref();
  return { url: `http://127.0.0.1:${port}/v1`, stats, faults, models, close };
}
