import { SourceError } from '../core/errors.js';
import type { GenericFields } from './generic-mapping.js';

export interface JsonMapping {
  fields: GenericFields;
  /** Input role name -> user | assistant | system. */
  roles: Record<string, string>;
  /** Applied to the user field; its first group is the user (ShareGPT: the id before _N). */
  userPattern: RegExp | null;
}

/** One record as the generic source's scratch file holds it (read back with a fixed schema). */
export interface MappedRecord {
  cid: string;
  user: string | null;
  country: string | null;
  language: string | null;
  ts: string | null;
  toxic: boolean;
  redacted: boolean;
  messages: { role: string | null; content: string }[];
  system_prompt: string | null;
  drop: string | null;
}

/** Where a record is, for messages. */
export interface RecordAt {
  /** "path:line". */
  at: string;
  /** The id when the record has none: "<file>#<row>", unique across the source's files. */
  fallbackId: string;
}

/** Which mapped fields one file's records actually had, to tell a missing column from empty values. */
export interface FieldPresence {
  records: number;
  messages: number;
  turns: number;
  role: number;
  content: number;
  /** Top-level fields of the file's first record, for the message. */
  available: string[] | null;
}

export function newPresence(): FieldPresence {
  return { records: 0, messages: 0, turns: 0, role: 0, content: 0, available: null };
}

function getPath(v: unknown, path: string | undefined): unknown {
  if (path === undefined) return undefined;
  let cur: unknown = v;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

const TRUE = new Set(['true', '1', 'yes', 'y', 't']);
const FALSE = new Set(['false', '0', 'no', 'n', 'f', '']);

/**
 * A flag as corpora spell it: JSON true/false, 1/0, or the strings true/false, yes/no, y/n,
 * t/f, 1/0 (any case; "" is false). Missing or null is false. Anything else ("toxic", 2)
 * is an error naming the field: read as false, it would keep what the filter should drop.
 */
export function parseFlag(v: unknown, field: string, at: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' && (v === 0 || v === 1)) return v === 1;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (TRUE.has(s)) return true;
    if (FALSE.has(s)) return false;
  }
  throw new SourceError(
    `${at}: field "${field}" is ${JSON.stringify(v)}, which is not a flag. Flags are true/false, 1/0, yes/no, y/n or t/f (any case); ` +
      'convert the column, or map another field (or none) to it in the source\'s fields.',
  );
}

function text(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return null;
}

const TEXT_PART_TYPES = new Set(['text', 'input_text', 'output_text']);

/**
 * A message's content as text: a string as it is (never re-encoded), a list of content parts
 * (the OpenAI format) as its text parts joined by newlines. null when it holds something that
 * is not text (an image, audio, a tool call): the record is dropped as non_text_content.
 */
export function contentText(v: unknown): string | null {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const part of v) {
      if (typeof part === 'string') out.push(part);
      else if (part !== null && typeof part === 'object' && TEXT_PART_TYPES.has(String((part as Record<string, unknown>)['type'])) && typeof (part as Record<string, unknown>)['text'] === 'string') {
        out.push((part as Record<string, string>)['text']!);
      } else return null;
    }
    return out.join('\n');
  }
  return null;
}

/** The canonical fields of one JSON (or CSV) record, by the source's field mapping. */
export function mapJsonConversation(rec: unknown, m: JsonMapping, where: RecordAt, presence: FieldPresence): MappedRecord {
  const { fields } = m;
  presence.records++;
  if (presence.available === null && rec !== null && typeof rec === 'object') presence.available = Object.keys(rec);
  let list = getPath(rec, fields.messages);
  // CSV cells (and some exports) hold the message list as JSON text.
  if (typeof list === 'string') {
    try {
      list = JSON.parse(list);
    } catch (e) {
      throw new SourceError(`${where.at}: field "${fields.messages}" holds text that is not a JSON list of messages (${(e as Error).message}). Repair that record, then rerun.`);
    }
  }
  let drop: string | null = null;
  const messages: { role: string | null; content: string }[] = [];
  if (Array.isArray(list)) {
    presence.messages++;
    for (const msg of list) {
      presence.turns++;
      const rawRole = getPath(msg, fields.role);
      const rawContent = getPath(msg, fields.content);
      if (rawRole !== undefined) presence.role++;
      if (rawContent !== undefined) presence.content++;
      const r = text(rawRole);
      const content = contentText(rawContent);
      if (content === null) drop ??= 'non_text_content';
      messages.push({ role: r === null ? null : (Object.hasOwn(m.roles, r) ? m.roles[r]! : r), content: content ?? '' });
    }
  } else if (list !== undefined && list !== null) {
    throw new SourceError(`${where.at}: field "${fields.messages}" is ${typeof list}, not a list of messages. Fix fields.messages, or repair that record.`);
  }
  // Leading system prompts are context for the assistant, not words of the user: set them aside.
  let first = 0;
  while (first < messages.length && messages[first]!.role === 'system') first++;
  const id = text(getPath(rec, fields.id));
  let user = text(getPath(rec, fields.user));
  if (user !== null && m.userPattern) user = m.userPattern.exec(user)?.[1] ?? user;
  return {
    cid: id ?? where.fallbackId,
    user,
    country: text(getPath(rec, fields.country)),
    language: text(getPath(rec, fields.language)),
    ts: text(getPath(rec, fields.timestamp)),
    toxic: fields.toxic ? parseFlag(getPath(rec, fields.toxic), fields.toxic, where.at) : false,
    redacted: fields.redacted ? parseFlag(getPath(rec, fields.redacted), fields.redacted, where.at) : false,
    messages: messages.slice(first),
    system_prompt: first > 0 ? messages.slice(0, first).map((x) => x.content).join('\n\n') : null,
    drop,
  };
}

/**
 * A file whose records never have a mapped field is a file of another shape (a renamed
 * column, another export), not a file of empty conversations: stop and name it.
 */
export function checkPresence(p: FieldPresence, fields: GenericFields, file: string, where: string, index: number): void {
  const missing: string[] = [];
  if (p.records > 0 && p.messages === 0) missing.push(`fields.messages "${fields.messages}"`);
  if (p.turns > 0 && p.role === 0) missing.push(`fields.role "${fields.role}"`);
  if (p.turns > 0 && p.content === 0) missing.push(`fields.content "${fields.content}"`);
  if (missing.length) {
    const shown = Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join(', ');
    throw new SourceError(
      `${where}: the field mapping (${shown}) does not fit ${file}: none of its ${p.records} records has ${missing.join(' or ')}. ` +
        `Top-level fields there: ${p.available?.join(', ') || '(none)'}. Fix sources[${index}].fields or choose another preset; ` +
        'if only this file differs from the others, convert it or remove it from files.',
    );
  }
}
