import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, type Node as YamlNode } from 'yaml';
import { ConfigError, type ConfigIssue } from '../core/errors.js';
import { hashValue } from '../core/hash.js';
import { SOURCE_DEFINITIONS, type SourceRegistry } from '../sources/registry.js';
import { checkPaths } from './check-paths.js';
import type { LoadedPipeline, PipelineConfig } from './pipeline-config.js';
import { pipelineSchema, sourceOptionOwners } from './pipeline-schema.js';

type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
const validators = new WeakMap<SourceRegistry, Validator>();

function getValidator(registry: SourceRegistry): Validator {
  let v = validators.get(registry);
  if (!v) {
    // Through JSON: TypeBox's symbol keys are no schema keywords.
    const schema = JSON.parse(JSON.stringify(pipelineSchema(registry)));
    const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: false });
    v = ajv.compile(schema) as Validator;
    validators.set(registry, v);
  }
  return v;
}

type PathSeg = string | number;

export function formatPath(path: PathSeg[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

/** Locates key paths of a YAML document so that every problem names its line. */
class YamlLocator {
  constructor(
    private readonly doc: ReturnType<typeof parseDocument>,
    private readonly lines: LineCounter,
  ) {}

  /** Line/column of the value at path, or of the deepest ancestor that exists. */
  locate(path: PathSeg[], wantKey = false): { line: number; column: number } | undefined {
    let node: unknown = this.doc.contents;
    let best: [number, number, number] | undefined = (node as YamlNode | null)?.range ?? undefined;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        const keyRange = (pair.key as YamlNode).range;
        if (wantKey && seg === path[path.length - 1] && keyRange) {
          best = keyRange;
          node = undefined;
          break;
        }
        node = pair.value;
        best = (node as YamlNode | null)?.range ?? keyRange ?? best;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        if (!node) break;
        best = (node as YamlNode).range ?? best;
      } else break;
    }
    if (!best) return undefined;
    const pos = this.lines.linePos(best[0]);
    return { line: pos.line, column: pos.col };
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v);
  return `${typeof v} ${String(v)}`;
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (dist < bestD) {
      bestD = dist;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function pointerToPath(pointer: string): PathSeg[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function ajvIssue(e: ErrorObject): { path: PathSeg[]; message: string; atKey: boolean } {
  const path = pointerToPath(e.instancePath);
  const got = `(got ${describe(e.data)})`;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p['additionalProperty']);
      const known = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {});
      const near = closest(key, known);
      const hint = near ? `; did you mean "${near}"?` : known.length ? `; known keys: ${known.join(', ')}` : '';
      return { path: [...path, key], message: `unknown key "${key}"${hint}`, atKey: true };
    }
    case 'required':
      return { path, message: `missing required key "${String(p['missingProperty'])}"`, atKey: false };
    case 'enum': {
      const allowed = (p['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ');
      const near = typeof e.data === 'string' ? closest(e.data, (p['allowedValues'] as unknown[]).map(String)) : undefined;
      return { path, message: `must be one of ${allowed} ${got}${near ? `; did you mean "${near}"?` : ''}`, atKey: false };
    }
    case 'type': {
      const names: Record<string, string> = { array: 'a list', object: 'a mapping', string: 'a string', integer: 'a whole number', number: 'a number', boolean: 'true or false', null: 'null' };
      const want = String(p['type']).split(',').map((t) => names[t] ?? t).join(' or ');
      return { path, message: `must be ${want} ${got}`, atKey: false };
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, message: `must be ${String(p['comparison'])} ${String(p['limit'])} ${got}`, atKey: false };
    case 'pattern':
      return { path, message: `must match ${String(p['pattern'])} ${got}`, atKey: false };
    case 'minItems':
      return { path, message: `must have at least ${String(p['limit'])} item(s)`, atKey: false };
    case 'minLength':
      return { path, message: `must not be empty`, atKey: false };
    case 'propertyNames':
      return { path: [...path, String(p['propertyName'])], message: `invalid name`, atKey: true };
    default:
      return { path, message: `${e.message ?? 'is invalid'} ${got}`, atKey: false };
  }
}

/** Checks the schema cannot express: cross-field rules and per-source-type keys. */
function semanticIssues(cfg: PipelineConfig, registry: SourceRegistry): { path: PathSeg[]; message: string }[] {
  const owners = sourceOptionOwners(registry);
  const out: { path: PathSeg[]; message: string }[] = [];
  const seen = new Map<string, number>();
  // Runs even when the schema check failed, so it must tolerate malformed parts.
  const sources = Array.isArray(cfg.sources) ? cfg.sources : [];
  sources.forEach((s, i) => {
    if (s === null || typeof s !== 'object' || typeof s.name !== 'string') return;
    const prev = seen.get(s.name);
    if (prev !== undefined) out.push({ path: ['sources', i, 'name'], message: `duplicate source name "${s.name}" (also sources[${prev}]); names prefix conversation ids and must be unique` });
    seen.set(s.name, i);
    const hub = s.hub !== null && typeof s.hub === 'object' ? s.hub : undefined;
    if (s.files === undefined && !hub) {
      out.push({ path: ['sources', i], message: 'needs files (local paths or globs) or hub (a Hugging Face repo at a pinned commit)' });
    }
    if (s.files !== undefined && hub) {
      out.push({ path: ['sources', i, 'files'], message: 'a Hub source reads its snapshot from the Hugging Face cache; remove files (list repo paths under hub.files) or remove hub to read local files' });
    }
    if (hub && typeof hub.revision === 'string' && !/^[0-9a-f]{40}$/.test(hub.revision)) {
      out.push({
        path: ['sources', i, 'hub', 'revision'],
        message: `must be a full 40-character commit sha (got ${describe(hub.revision)}); a branch or tag moves and the data would change under the same pipeline file. Copy the sha from the repo's "Files and versions" history`,
      });
    }
    // A key of another type's options: the schema accepts it (all types share one object), so say whose it is.
    for (const [k, o] of owners) {
      if ((s as Record<string, unknown>)[k] !== undefined && !o.types.includes(s.type)) {
        out.push({ path: ['sources', i, k], message: `only applies to type ${o.types.map((t) => `"${t}"`).join(', ')} (this source is "${s.type}"); remove it` });
      }
    }
    const def = registry.find((d) => d.type === s.type);
    for (const issue of def?.check?.(s) ?? []) out.push({ path: ['sources', i, ...issue.path], message: issue.message });
    for (const [key, list] of [['files', s.files], ['hub.files', hub?.files]] as const) {
      if (!Array.isArray(list)) continue;
      for (const [j, f] of list.entries()) {
        // A NUL cannot be in a path; it would cut the name short in the C library.
        if (typeof f === 'string' && f.includes('\0')) out.push({ path: ['sources', i, ...key.split('.'), j], message: 'contains a NUL character; remove it' });
      }
    }
  });
  const near = cfg.stages?.dedup?.near;
  if (near && typeof near === 'object') {
    const { bands, rows, num_perm } = near;
    if ((bands === null) !== (rows === null)) out.push({ path: ['stages', 'dedup', 'near', bands === null ? 'bands' : 'rows'], message: 'set both bands and rows, or neither (then they are chosen from threshold)' });
    else if (typeof bands === 'number' && typeof rows === 'number' && typeof num_perm === 'number' && bands * rows > num_perm) {
      out.push({ path: ['stages', 'dedup', 'near', 'bands'], message: `bands x rows must be <= num_perm (got ${bands} x ${rows} > ${num_perm})` });
    }
  }
  const it = cfg.stages?.intents;
  if (it && typeof it === 'object' && it.backend !== 'template') {
    if (typeof it.min_chars === 'number' && typeof it.max_chars === 'number' && it.min_chars > it.max_chars) {
      out.push({ path: ['stages', 'intents', 'min_chars'], message: `must be <= max_chars (${it.max_chars}) (got ${it.min_chars})` });
    }
    if (typeof it.prompt === 'string' && !existsSync(it.prompt)) {
      out.push({ path: ['stages', 'intents', 'prompt'], message: `prompt file not found: ${it.prompt} (relative paths resolve against the working directory ${process.cwd()}); fix the path or run from the repository root` });
    }
  }
  const fr = cfg.stages?.split?.fractions;
  if (fr && typeof fr === 'object' && Object.values(fr).every((v) => typeof v === 'number')) {
    const sum = Object.values(fr).reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > 1e-9) out.push({ path: ['stages', 'split', 'fractions'], message: `must sum to 1 (got ${sum})` });
  }
  return out;
}

/** Parse, validate and resolve a pipeline text. Every problem is reported at once. */
export function parsePipeline(text: string, file: string, registry: SourceRegistry = SOURCE_DEFINITIONS): LoadedPipeline {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const issues: ConfigIssue[] = [];
  for (const err of doc.errors) {
    const pos = err.linePos?.[0];
    issues.push({ file, line: pos?.line, column: pos?.col, path: '', message: `YAML syntax: ${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` });
  }
  if (issues.length) throw new ConfigError(issues);
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (e) {
    // The yaml library refuses alias chains that would expand exponentially ("billion laughs").
    throw new ConfigError([{ file, path: '', message: `YAML aliases: ${(e as Error).message}; write the values out instead of nesting aliases` }]);
  }
  const locator = new YamlLocator(doc, lines);
  const push = (path: PathSeg[], message: string, atKey = false) => {
    const loc = locator.locate(path, atKey);
    issues.push({ file, line: loc?.line, column: loc?.column, path: formatPath(path), message });
  };
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    push([], `must be a mapping with name, sources and stages (got ${describe(data)})`);
    throw new ConfigError(issues);
  }
  const validate = getValidator(registry);
  if (!validate(data)) {
    const seen = new Set<string>();
    for (const e of validate.errors ?? []) {
      const { path, message, atKey } = ajvIssue(e);
      const key = formatPath(path) + '\0' + message;
      if (seen.has(key)) continue;
      seen.add(key);
      push(path, message, atKey);
    }
  }
  const cfg = data as PipelineConfig;
  for (const s of semanticIssues(cfg, registry)) push(s.path, s.message);
  if (issues.length) throw new ConfigError(sortIssues(issues));
  cfg.run_dir ??= `runs/${cfg.name}`;
  cfg.out_dir ??= `out/${cfg.name}`;
  for (const s of checkPaths(cfg)) push(s.path, s.message);
  if (issues.length) throw new ConfigError(sortIssues(issues));
  for (const s of cfg.sources) if (s.hub) s.hub.repo_type ??= 'dataset';
  return { file, config: cfg, configHash: hashValue(cfg) };
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

export async function loadPipeline(file: string, registry: SourceRegistry = SOURCE_DEFINITIONS): Promise<LoadedPipeline> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError([{ file, path: '', message: code === 'ENOENT' ? 'no such file; pass the path of a pipeline YAML (see pipelines/)' : `cannot read: ${(e as Error).message}` }]);
  }
  return parsePipeline(text, file, registry);
}
