import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { Db, sqlString } from '../core/db.js';
import { uniform as mulberry32 } from '../core/seeded-random.js';
import { EDIT_KINDS, plantEdit } from './plant-edits.js';

// A seeded WildChat-shaped corpus for benchmarks: Zipfian vocabulary, heavy-tailed first
// turns, planted near-duplicates with known originals, edit kinds and edit rates, templated
// prompts, and stock phrases that ordinary prompts share (so a rule that fires on one
// frequent n-gram shows its false positives).

export interface CorpusTruth {
  n: number;
  /** original[i]: index of the conversation i was copied from, or -1. */
  original: Int32Array;
  /** edit rate of the copy (share of words replaced), or -1. */
  editRate: Float32Array;
  /** Index into EDIT_KINDS of the copy's edit, or -1. */
  editKind: Int8Array;
  /** Words the edit changed (0 for exact, case and punctuation copies). */
  editedWords: Int32Array;
  /** template[i]: 0 for none, t+1 for an instance of template t. */
  template: Uint8Array;
  firstTurns: string[];
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'be', 'da', 'fu', 'gi', 'ho', 'ja', 'pe', 'qui', 'ze', 'wa', 'xo', 'yu'];
const EDIT_RATES = [0.02, 0.05, 0.08, 0.1, 0.2];

export function generateCorpus(n: number, seed = 7): CorpusTruth & { rows: (i: number) => string } {
  const rnd = mulberry32(seed);
  const vocab: string[] = [];
  for (let i = 0; vocab.length < 30000; i++) {
    let w = '';
    let x = i + 1;
    while (x > 0) {
      w += SYLLABLES[x % SYLLABLES.length];
      x = Math.floor(x / SYLLABLES.length);
    }
    vocab.push(w);
  }
  // Zipf(1.1) over the vocabulary by inverse CDF.
  const cdf = new Float64Array(vocab.length);
  let acc = 0;
  for (let i = 0; i < vocab.length; i++) cdf[i] = acc += 1 / Math.pow(i + 1, 1.1);
  const word = () => {
    const u = rnd() * acc;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return vocab[lo]!;
  };
  const words = (k: number) => Array.from({ length: k }, word);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const templates = Array.from({ length: 5 }, () => words(24));
  const perTemplate = Math.max(150, Math.round(n * 0.0006));
  const templated = new Set<number>();
  while (templated.size < Math.min(n / 4, perTemplate * templates.length)) templated.add(Math.floor(rnd() * n));
  // Stock phrases ("can you please help me write a", ...): each in ~1.5% of the ordinary
  // prompts of 8 words or more, so each is far above the templated rule's max_others.
  const phrases = Array.from({ length: 20 }, () => words(7 + Math.floor(rnd() * 4)));
  const original = new Int32Array(n).fill(-1);
  const editRate = new Float32Array(n).fill(-1);
  const editKind = new Int8Array(n).fill(-1);
  const editedWords = new Int32Array(n);
  const template = new Uint8Array(n);
  const firstTurns: string[] = new Array(n);
  const followUps: string[][] = new Array(n);
  let t = 0;
  for (let i = 0; i < n; i++) {
    if (templated.has(i)) {
      const tpl = t++ % templates.length;
      template[i] = tpl + 1;
      const body = templates[tpl]!.slice();
      // Two filler slots: the template's fixed runs are 8 words or longer.
      body.splice(16, 0, ...words(1 + Math.floor(rnd() * 3)));
      body.splice(8, 0, ...words(1 + Math.floor(rnd() * 3)));
      firstTurns[i] = body.join(' ');
    } else if (i > 10 && rnd() < 0.08) {
      let j = Math.floor(rnd() * i);
      while (original[j]! >= 0 || template[j]) j = Math.floor(rnd() * i);
      const kind = Math.floor(rnd() * EDIT_KINDS.length);
      const wordEdit = EDIT_KINDS[kind] !== 'exact' && EDIT_KINDS[kind] !== 'case' && EDIT_KINDS[kind] !== 'punctuation';
      const rate = wordEdit ? EDIT_RATES[Math.floor(rnd() * EDIT_RATES.length)]! : 0;
      const e = plantEdit(firstTurns[j]!, EDIT_KINDS[kind]!, rate, rnd, word);
      original[i] = j;
      editKind[i] = kind;
      editedWords[i] = e.editedWords;
      editRate[i] = e.editedWords / firstTurns[j]!.split(' ').length;
      firstTurns[i] = e.text;
    } else {
      const len = Math.min(3000, Math.max(3, Math.round(Math.exp(3.2 + 0.9 * gauss()))));
      const w = words(len);
      if (len >= 8 && rnd() < 0.3) w.splice(Math.floor(rnd() * (len + 1)), 0, ...phrases[Math.floor(rnd() * phrases.length)]!);
      firstTurns[i] = w.join(' ');
    }
    const k = 1 + Math.min(7, Math.floor(-Math.log(1 - rnd()) / Math.log(2)));
    followUps[i] = Array.from({ length: k - 1 }, () => words(4 + Math.floor(rnd() * 16)).join(' '));
  }
  const base = Date.UTC(2023, 3, 9) / 1000;
  const rows = (i: number) => {
    const user = Math.floor(Math.abs(Math.sin(i * 12.9898)) * 50000);
    const msgs: { role: string; content: string }[] = [];
    const turns = [firstTurns[i]!, ...followUps[i]!];
    for (const [k, u] of turns.entries()) {
      msgs.push({ role: 'user', content: u });
      msgs.push({ role: 'assistant', content: `Here is my answer number ${k + 1} about ${u.split(' ').slice(0, 6).join(' ')}.` });
    }
    return JSON.stringify({
      conversation_hash: `h${i}`,
      model: 'gpt-3.5-turbo',
      timestamp: new Date((base + i * 30) * 1000).toISOString(),
      conversation: msgs.map((m, k) => ({ ...m, turn_identifier: i * 100 + (k >> 1) })),
      turn: turns.length,
      language: 'English',
      toxic: false,
      redacted: false,
      country: `Country${user % 10}`,
      hashed_ip: `ip${user}`,
    });
  };
  return { n, original, editRate, editKind, editedWords, template, firstTurns, rows };
}

/** Write the corpus as a WildChat-format Parquet file (cached by path). */
export async function writeCorpusParquet(c: { n: number; rows: (i: number) => string }, path: string): Promise<void> {
  if (await stat(path).then(() => true, () => false)) return;
  await mkdir(dirname(path), { recursive: true });
  const json = `${path}.ndjson`;
  const out = createWriteStream(json);
  let buf: string[] = [];
  for (let i = 0; i < c.n; i++) {
    buf.push(c.rows(i));
    if (buf.length === 5000) {
      if (!out.write(buf.join('\n') + '\n')) await once(out, 'drain');
      buf = [];
    }
  }
  if (buf.length) out.write(buf.join('\n') + '\n');
  out.end();
  await once(out, 'finish');
  const db = await Db.open();
  try {
    await db.run(
      `COPY (SELECT * FROM read_json(${sqlString(json)}, format = 'newline_delimited', columns = {
          conversation_hash: 'VARCHAR', model: 'VARCHAR', timestamp: 'TIMESTAMP',
          conversation: 'STRUCT(role VARCHAR, content VARCHAR, turn_identifier BIGINT)[]',
          turn: 'BIGINT', language: 'VARCHAR', toxic: 'BOOLEAN', redacted: 'BOOLEAN', country: 'VARCHAR', hashed_ip: 'VARCHAR'}))
       TO ${sqlString(`${path}.tmp`)} (FORMAT parquet, COMPRESSION zstd)`,
    );
  } finally {
    db.close();
  }
  await rename(`${path}.tmp`, path);
  await rm(json, { force: true });
}
