// A Hugging Face Hub stand-in on 127.0.0.1 that answers exactly what @huggingface/hub calls
// for pull and publish: revision info, tree listing (paginated), paths-info, resolve with
// Range, repo and branch creation, preupload, the LFS batch API with the basic transfer and
// its PUT, and the NDJSON commit. Faults are switched on per test. Importing it starts nothing.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StoredFile {
  size: number;
  /** git blob id: of the content, or of the LFS pointer for LFS files (as on the Hub). */
  oid: string;
  sha256: string;
  lfs: boolean;
  /** Regular files only; LFS content lives in the server's LFS store. */
  content?: Buffer;
}

interface Commit {
  sha: string;
  parent: string | null;
  title: string;
  files: Map<string, StoredFile>;
}

interface Repo {
  type: 'model' | 'dataset';
  name: string;
  private: boolean;
  gated: boolean;
  owner: string;
  branches: Map<string, string>;
  commits: Map<string, Commit>;
  prs: number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  range?: string;
  status: number;
  /** For commits: the paths the commit added. */
  committed?: string[];
}

export interface HubFaults {
  /** Let `after` commit requests through, then answer the next `times` with a 500. */
  failCommits: { after: number; times: number };
  /** Cut the connection after `afterBytes` bytes of a resolve of `path`, `times` times. */
  dropDownloads: { path: string; afterBytes: number; times: number }[];
  /** Send file bodies `chunkBytes` at a time, `delayMs` apart, so that downloads overlap. */
  throttle?: { chunkBytes: number; delayMs: number };
}

export interface HubServer {
  url: string;
  requests: LoggedRequest[];
  faults: HubFaults;
  /** A repo whose main branch holds these files in one commit; returns that commit's sha. */
  addRepo(spec: { type?: 'model' | 'dataset'; name: string; files: Record<string, string | Buffer>; gated?: boolean; private?: boolean }): string;
  /** A token for `user`; `granted` lists gated repos whose terms this user accepted. */
  addToken(token: string, user: string, granted?: string[]): void;
  /** The files of a repo at a branch or commit, or null when either does not exist. */
  filesAt(type: 'model' | 'dataset', name: string, rev: string): Map<string, StoredFile> | null;
  readFile(type: 'model' | 'dataset', name: string, rev: string, path: string): Buffer | null;
  close(): Promise<void>;
}

const sha1 = (b: Buffer | string) => createHash('sha1').update(b).digest('hex');
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const gitOid = (b: Buffer) => sha1(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b]));
const lfsPointer = (sha: string, size: number) => Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha}\nsize ${size}\n`);

const GITATTRIBUTES = Buffer.from('*.parquet filter=lfs diff=lfs merge=lfs -text\n*.arrow filter=lfs diff=lfs merge=lfs -text\n');

/** The Hub's rule of thumb: binary-looking, big, or listed in .gitattributes means LFS. */
function wantsLfs(path: string, size: number, sample: Buffer): boolean {
  return /\.(parquet|arrow|bin|safetensors)$/.test(path) || size > 10 * 1024 * 1024 || sample.includes(0);
}

export async function startHubServer(opts: { pageSize?: number } = {}): Promise<HubServer> {
  const pageSize = opts.pageSize ?? 1000;
  const repos = new Map<string, Repo>();
  const lfsStore = new Map<string, Buffer>();
  const tokens = new Map<string, { user: string; granted: Set<string> }>();
  const requests: LoggedRequest[] = [];
  const faults: HubFaults = { failCommits: { after: 0, times: 0 }, dropDownloads: [] };
  let commitCounter = 0;
  let url = '';

  const key = (type: string, name: string) => `${type}s/${name}`;

  function storeFile(path: string, content: Buffer, lfs: boolean): StoredFile {
    const digest = sha256(content);
    if (lfs) {
      lfsStore.set(digest, content);
      return { size: content.length, oid: gitOid(lfsPointer(digest, content.length)), sha256: digest, lfs: true };
    }
    return { size: content.length, oid: gitOid(content), sha256: digest, lfs: false, content };
  }

  function newCommit(repo: Repo, parent: string | null, title: string, files: Map<string, StoredFile>): Commit {
    const listing = [...files.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, f]) => `${p}:${f.oid}`);
    const c: Commit = { sha: sha1(JSON.stringify({ parent, title, listing, n: commitCounter++ })), parent, title, files };
    repo.commits.set(c.sha, c);
    return c;
  }

  function resolveRev(repo: Repo, rev: string): Commit | undefined {
    const sha = repo.branches.get(rev) ?? (rev === 'HEAD' ? repo.branches.get('main') : rev);
    return sha ? repo.commits.get(sha) : undefined;
  }

  function auth(req: IncomingMessage): { token: string; user: string; granted: Set<string> } | null | 'invalid' {
    const h = req.headers['authorization'];
    if (!h) return null;
    const token = h.replace(/^Bearer\s+/i, '');
    const t = tokens.get(token);
    return t ? { token, ...t } : 'invalid';
  }

  async function body(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  function send(res: ServerResponse, status: number, json: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(json));
  }
  const error = (res: ServerResponse, status: number, code: string, message: string) => send(res, status, { error: message }, { 'X-Error-Code': code });

  function entry(path: string, f: StoredFile) {
    return {
      type: 'file',
      oid: f.oid,
      size: f.size,
      path,
      ...(f.lfs ? { lfs: { oid: f.sha256, size: f.size, pointerSize: lfsPointer(f.sha256, f.size).length } } : {}),
    };
  }

  /** Reading a repo: private repos need their owner's token; gated files need a granted one. */
  function readAccess(req: IncomingMessage, res: ServerResponse, repo: Repo | undefined, forContent: boolean): repo is Repo {
    const who = auth(req);
    if (who === 'invalid') {
      error(res, 401, 'InvalidCredentials', 'Invalid credentials in Authorization header');
      return false;
    }
    if (!repo || (repo.private && who?.user !== repo.owner)) {
      error(res, 401, 'RepoNotFound', 'Repository not found');
      return false;
    }
    if (forContent && repo.gated && who?.user !== repo.owner && !who?.granted.has(repo.name)) {
      if (!who) error(res, 401, 'GatedRepo', `Access to dataset ${repo.name} is restricted. You must have access to it and be authenticated to access it. Please log in.`);
      else error(res, 403, 'GatedRepo', `Access to dataset ${repo.name} is restricted and you are not in the authorized list. Visit ${url}/datasets/${repo.name} to ask for access.`);
      return false;
    }
    return true;
  }

  function writeAccess(req: IncomingMessage, res: ServerResponse, repo: Repo | undefined): repo is Repo {
    const who = auth(req);
    if (!who || who === 'invalid') {
      error(res, 401, 'InvalidCredentials', 'Invalid credentials in Authorization header');
      return false;
    }
    if (!repo) {
      error(res, 404, 'RepoNotFound', 'Repository not found');
      return false;
    }
    if (who.user !== repo.owner) {
      error(res, 403, 'Forbidden', `You don't have the rights to write to ${repo.name}`);
      return false;
    }
    return true;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, log: LoggedRequest): Promise<void> {
    const u = new URL(req.url ?? '/', url);
    const seg = u.pathname.split('/').slice(1);
    const method = req.method ?? 'GET';

    // /api/repos/create
    if (method === 'POST' && u.pathname === '/api/repos/create') {
      const who = auth(req);
      if (!who || who === 'invalid') return error(res, 401, 'InvalidCredentials', 'Invalid credentials in Authorization header');
      const b = JSON.parse((await body(req)).toString()) as { name: string; organization?: string; type?: string; visibility?: string; private?: boolean };
      const owner = b.organization ?? who.user;
      if (owner !== who.user) return error(res, 403, 'Forbidden', `You cannot create repos in ${owner}`);
      const type = (b.type ?? 'model') as 'model' | 'dataset';
      const name = `${owner}/${b.name}`;
      if (repos.has(key(type, name))) return error(res, 409, 'RepoExists', `You already created this ${type} repo`);
      const repo = makeRepo(type, name, owner, { private: b.visibility === 'private' || b.private === true });
      repos.set(key(type, name), repo);
      return send(res, 200, { url: `${url}/${type === 'model' ? '' : `${type}s/`}${name}`, id: name });
    }

    // /api/{type}s/{owner}/{name}/{action}/{rev...}
    if (seg[0] === 'api' && (seg[1] === 'datasets' || seg[1] === 'models') && seg.length >= 5) {
      const type = seg[1] === 'datasets' ? 'dataset' : 'model';
      const name = `${seg[2]}/${seg[3]}`;
      const repo = repos.get(key(type, name));
      const action = seg[4];
      const rest = seg.slice(5).map(decodeURIComponent);
      if (method === 'GET' && action === 'revision') {
        if (!readAccess(req, res, repo, false)) return;
        const c = resolveRev(repo, rest.join('/'));
        if (!c) return error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rest.join('/')}`);
        return send(res, 200, {
          _id: sha1(name).slice(0, 24), id: name, private: repo.private, gated: repo.gated ? 'manual' : false,
          downloads: 0, likes: 0, lastModified: '2025-01-01T00:00:00.000Z', sha: c.sha,
        });
      }
      if (method === 'GET' && action === 'tree') {
        if (!readAccess(req, res, repo, false)) return;
        // The JS client does not encode the revision here, so refs/pr/N arrives as three segments.
        const n = rest[0] === 'refs' && rest[1] === 'pr' ? 3 : 1;
        const c = resolveRev(repo, rest.slice(0, n).join('/'));
        if (!c) return error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rest.slice(0, n).join('/')}`);
        const prefix = rest.slice(n).join('/');
        const recursive = u.searchParams.get('recursive') === 'true';
        const items: unknown[] = [];
        const dirs = new Set<string>();
        for (const [p, f] of [...c.files.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
          if (prefix && !p.startsWith(prefix + '/')) continue;
          const rel = prefix ? p.slice(prefix.length + 1) : p;
          const slash = rel.indexOf('/');
          if (slash >= 0) {
            const dir = (prefix ? prefix + '/' : '') + rel.slice(0, slash);
            if (!dirs.has(dir)) {
              dirs.add(dir);
              items.push({ type: 'directory', oid: sha1(dir), size: 0, path: dir });
            }
            if (!recursive) continue;
          }
          items.push(entry(p, f));
        }
        const cursor = Number(u.searchParams.get('cursor') ?? 0);
        const page = items.slice(cursor, cursor + pageSize);
        const headers: Record<string, string> = {};
        if (cursor + pageSize < items.length) {
          const next = new URL(u);
          next.searchParams.set('cursor', String(cursor + pageSize));
          headers['Link'] = `<${next.href}>; rel="next"`;
        }
        return send(res, 200, page, headers);
      }
      if (method === 'POST' && action === 'paths-info') {
        if (!readAccess(req, res, repo, false)) return;
        const c = resolveRev(repo, rest.join('/'));
        if (!c) return error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rest.join('/')}`);
        const b = JSON.parse((await body(req)).toString()) as { paths: string[]; expand?: boolean };
        const out = [];
        for (const p of b.paths) {
          const f = c.files.get(p);
          if (f) out.push({ ...entry(p, f), ...(b.expand ? { lastCommit: { id: c.sha, title: c.title, date: '2025-01-01T00:00:00.000Z' }, securityFileStatus: { status: 'safe' } } : {}) });
        }
        return send(res, 200, out);
      }
      if (method === 'POST' && action === 'branch') {
        if (!writeAccess(req, res, repo)) return;
        const branch = rest.join('/');
        if (repo.branches.has(branch)) return error(res, 409, 'BranchExists', `Branch ${branch} already exists`);
        const b = JSON.parse((await body(req)).toString() || '{}') as { startingPoint?: string };
        const from = resolveRev(repo, b.startingPoint ?? 'main');
        if (!from) return error(res, 404, 'RevisionNotFound', 'Invalid starting point');
        repo.branches.set(branch, from.sha);
        return send(res, 200, {});
      }
      if (method === 'POST' && action === 'preupload') {
        if (!writeAccess(req, res, repo)) return;
        const b = JSON.parse((await body(req)).toString()) as { files: { path: string; size: number; sample: string }[] };
        return send(res, 200, {
          files: b.files.map((f) => ({ path: f.path, uploadMode: wantsLfs(f.path, f.size, Buffer.from(f.sample, 'base64')) ? 'lfs' : 'regular' })),
        });
      }
      if (method === 'POST' && action === 'commit') {
        if (!writeAccess(req, res, repo)) return;
        const raw = (await body(req)).toString();
        if (faults.failCommits.after > 0) faults.failCommits.after--;
        else if (faults.failCommits.times > 0) {
          faults.failCommits.times--;
          return error(res, 500, 'InternalError', 'Internal Error - We\'re working hard to fix this as soon as possible!');
        }
        const isPr = u.searchParams.get('create_pr') === '1';
        const branch = rest.join('/');
        const headSha = repo.branches.get(branch);
        if (!headSha) return error(res, 404, 'RevisionNotFound', `Invalid rev id: ${branch}`);
        const head = repo.commits.get(headSha)!;
        const files = new Map(head.files);
        let title = '';
        const added: string[] = [];
        for (const line of raw.split('\n').filter(Boolean)) {
          const op = JSON.parse(line) as { key: string; value: Record<string, unknown> };
          if (op.key === 'header') title = String(op.value['summary'] ?? '');
          else if (op.key === 'file') {
            const content = Buffer.from(String(op.value['content']), op.value['encoding'] === 'base64' ? 'base64' : 'utf8');
            files.set(String(op.value['path']), storeFile(String(op.value['path']), content, false));
            added.push(String(op.value['path']));
          } else if (op.key === 'lfsFile') {
            const oid = String(op.value['oid']);
            const content = lfsStore.get(oid);
            if (!content) return error(res, 422, 'LfsObjectMissing', `LFS object ${oid} was never uploaded`);
            files.set(String(op.value['path']), storeFile(String(op.value['path']), content, true));
            added.push(String(op.value['path']));
          } else if (op.key === 'deletedFile') files.delete(String(op.value['path']));
          else return error(res, 400, 'BadRequest', `unknown operation ${op.key}`);
        }
        log.committed = added.sort();
        const c = newCommit(repo, head.sha, title, files);
        const prefix = `${url}/${repo.type === 'model' ? '' : `${repo.type}s/`}${repo.name}`;
        if (isPr) {
          const n = ++repo.prs;
          repo.branches.set(`refs/pr/${n}`, c.sha);
          return send(res, 200, { commitOid: c.sha, commitUrl: `${prefix}/commit/${c.sha}`, pullRequestUrl: `${prefix}/discussions/${n}`, hookOutput: '' });
        }
        repo.branches.set(branch, c.sha);
        return send(res, 200, { commitOid: c.sha, commitUrl: `${prefix}/commit/${c.sha}`, hookOutput: '' });
      }
      return error(res, 404, 'NotFound', `no route ${method} ${u.pathname}`);
    }

    if (method === 'PUT' && seg[0] === 'lfs-upload' && seg[1]) {
      const content = await body(req);
      if (sha256(content) !== seg[1]) return error(res, 400, 'BadDigest', 'content does not match its oid');
      lfsStore.set(seg[1], content);
      res.writeHead(200);
      return void res.end();
    }

    // /{datasets/}{owner}/{name}/resolve/{rev}/{path} and /{datasets/}{owner}/{name}.git/info/lfs/objects/batch
    const typed = seg[0] === 'datasets';
    const type = typed ? 'dataset' : 'model';
    const s = typed ? seg.slice(1) : seg;
    if (s.length >= 2 && s[1]!.endsWith('.git') && s.slice(2).join('/') === 'info/lfs/objects/batch' && method === 'POST') {
      const name = `${s[0]}/${s[1]!.slice(0, -4)}`;
      const repo = repos.get(key(type, name));
      if (!writeAccess(req, res, repo)) return;
      const b = JSON.parse((await body(req)).toString()) as { operation: string; transfers?: string[]; objects: { oid: string; size: number }[] };
      if (!b.transfers?.includes('basic')) return error(res, 422, 'Unsupported', 'only the basic transfer is offered here');
      return send(
        res,
        200,
        {
          transfer: 'basic',
          objects: b.objects.map((o) =>
            lfsStore.has(o.oid) ? { oid: o.oid, size: o.size } : { oid: o.oid, size: o.size, authenticated: true, actions: { upload: { href: `${url}/lfs-upload/${o.oid}`, header: {}, expires_in: 3600 } } },
          ),
        },
        { 'Content-Type': 'application/vnd.git-lfs+json' },
      );
    }
    if (s.length >= 5 && s[2] === 'resolve' && (method === 'GET' || method === 'HEAD')) {
      const name = `${s[0]}/${s[1]}`;
      const repo = repos.get(key(type, name));
      if (!readAccess(req, res, repo, true)) return;
      const c = resolveRev(repo, decodeURIComponent(s[3]!));
      if (!c) return error(res, 404, 'RevisionNotFound', `Invalid rev id: ${s[3]}`);
      const path = s.slice(4).map(decodeURIComponent).join('/');
      const f = c.files.get(path);
      if (!f) return error(res, 404, 'EntryNotFound', `${path} does not exist on "${s[3]}"`);
      const content = f.lfs ? lfsStore.get(f.sha256)! : f.content!;
      const headers: Record<string, string> = {
        'Accept-Ranges': 'bytes',
        'Content-Type': 'application/octet-stream',
        ETag: `"${f.lfs ? f.sha256 : f.oid}"`,
        'X-Repo-Commit': c.sha,
        ...(f.lfs ? { 'X-Linked-ETag': `"${f.sha256}"`, 'X-Linked-Size': String(f.size) } : {}),
      };
      let start = 0;
      let end = content.length - 1;
      let status = 200;
      const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers['range'] ?? ''));
      if (range) {
        start = Number(range[1]);
        end = range[2] ? Math.min(Number(range[2]), content.length - 1) : content.length - 1;
        if (start >= content.length) {
          res.writeHead(416, { 'Content-Range': `bytes */${content.length}` });
          return void res.end();
        }
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${end}/${content.length}`;
      }
      log.status = status;
      const slice = content.subarray(start, end + 1);
      const drop = faults.dropDownloads.find((d) => d.path === path && d.times > 0 && slice.length > d.afterBytes);
      res.writeHead(status, { ...headers, 'Content-Length': String(slice.length) });
      if (method === 'HEAD') return void res.end();
      if (drop) {
        drop.times--;
        res.write(slice.subarray(0, drop.afterBytes), () => setTimeout(() => res.socket?.destroy(), 20));
        return;
      }
      if (faults.throttle) {
        const { chunkBytes, delayMs } = faults.throttle;
        for (let at = 0; at < slice.length && !res.destroyed; at += chunkBytes) {
          res.write(slice.subarray(at, at + chunkBytes));
          await new Promise((r) => setTimeout(r, delayMs));
        }
        return void res.end();
      }
      return void res.end(slice);
    }
    error(res, 404, 'NotFound', `no route ${method} ${u.pathname}`);
  }

  function makeRepo(type: 'model' | 'dataset', name: string, owner: string, o: { private?: boolean; gated?: boolean }): Repo {
    const repo: Repo = { type, name, owner, private: o.private ?? false, gated: o.gated ?? false, branches: new Map(), commits: new Map(), prs: 0 };
    const init = newCommit(repo, null, 'initial commit', new Map([['.gitattributes', storeFile('.gitattributes', GITATTRIBUTES, false)]]));
    repo.branches.set('main', init.sha);
    return repo;
  }

  function filesAt(type: 'model' | 'dataset', name: string, rev: string): Map<string, StoredFile> | null {
    const repo = repos.get(key(type, name));
    return repo ? (resolveRev(repo, rev)?.files ?? null) : null;
  }

  const server = createServer((req, res) => {
    const log: LoggedRequest = { method: req.method ?? 'GET', path: decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname), status: 0 };
    if (req.headers['range']) log.range = String(req.headers['range']);
    requests.push(log);
    res.on('finish', () => {
      if (!log.status) log.status = res.statusCode;
    });
    res.on('close', () => {
      if (!log.status) log.status = res.statusCode;
    });
    handle(req, res, log).catch((e) => {
      if (!res.headersSent) error(res, 500, 'InternalError', String(e));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    requests,
    faults,
    addRepo(spec) {
      const type = spec.type ?? 'dataset';
      const owner = spec.name.split('/')[0]!;
      const repo = makeRepo(type, spec.name, owner, spec);
      const head = repo.commits.get(repo.branches.get('main')!)!;
      const files = new Map(head.files);
      for (const [p, content] of Object.entries(spec.files)) {
        const b = Buffer.isBuffer(content) ? content : Buffer.from(content);
        files.set(p, storeFile(p, b, wantsLfs(p, b.length, b.subarray(0, 512))));
      }
      const c = newCommit(repo, head.sha, 'upload data', files);
      repo.branches.set('main', c.sha);
      repos.set(key(type, spec.name), repo);
      return c.sha;
    },
    addToken(token, user, granted = []) {
      tokens.set(token, { user, granted: new Set(granted) });
    },
    filesAt,
    readFile(type, name, rev, path) {
      const f = filesAt(type, name, rev)?.get(path);
      if (!f) return null;
      return f.lfs ? lfsStore.get(f.sha256)! : f.content!;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
