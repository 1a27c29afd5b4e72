// The real-text dedup benchmark corpus: every user turn of the vendored WildChat rows as an
// original conversation, and planted copies of each (every edit kind, several rates), with
// ground truth. Real prompts are short (median about 15 words), which is where word 5-grams
// failed.
import { Db, sqlString } from '../core/db.js';
import { uniform as mulberry32 } from '../core/seeded-random.js';
import { countWords, plantEdit, wordEditRatio, type EditKind, EDIT_KINDS } from './plant-edits.js';

export const REAL_ROWS = 'test/fixtures/wildchat-1m-sample50.parquet';

export interface RealCorpus {
  n: number;
  rows: (i: number) => string;
  texts: string[];
  /** original[i]: index of the turn i copies, or -1 for an original. */
  original: number[];
  editKind: number[];
  editedWords: number[];
  /** Turns that have a natural near-duplicate in the rows, and so no planted copies. */
  unplanted: number;
}

const VARIANTS: [EditKind, number][] = [
  ['exact', 0], ['case', 0], ['punctuation', 0],
  ['substitute', 0], ['substitute', 0.03], ['substitute', 0.05], ['substitute', 0.08], ['substitute', 0.1],
  ['insert', 0.05], ['insert', 0.1], ['delete', 0.05], ['delete', 0.1], ['append', 0], ['append', 0.05], ['append', 0.1],
];

export async function buildRealCorpus(file = REAL_ROWS, seed = 11): Promise<RealCorpus> {
  const db = await Db.open({ threads: 1 });
  let turns: { t: string; lang: string }[];
  try {
    turns = await db.all<{ t: string; lang: string }>(
      `SELECT m.content AS t, language AS lang FROM (SELECT unnest(conversation) AS m, language, conversation_hash FROM read_parquet(${sqlString(file)}))
       WHERE m.role = 'user' AND length(trim(m.content)) > 0 ORDER BY conversation_hash, m.turn_identifier`,
    );
  } finally {
    db.close();
  }
  const rnd = mulberry32(seed);
  const vocab = turns.flatMap((x) => x.t.split(/\s+/)).filter((w) => /^\p{Script=Latin}{1,12}$/u.test(w));
  const word = () => vocab[Math.floor(rnd() * vocab.length)]!;
  const texts: string[] = [];
  const langs: string[] = [];
  const original: number[] = [];
  const editKind: number[] = [];
  const editedWords: number[] = [];
  for (const x of turns) {
    texts.push(x.t);
    langs.push(x.lang);
    original.push(-1);
    editKind.push(-1);
    editedWords.push(0);
  }
  // WildChat users re-send a prompt with a few words changed. A copy of such a turn A, with
  // 10% of its words edited, may be nearer an earlier variant B than A; and with A dropped
  // for B, keeper linkage rightly keeps a copy that is not itself within the threshold of B.
  // The truth "this copy belongs with A" is then not one answer, so edits are planted only
  // into turns with no other turn within 20% of their words. Every turn stays in the corpus:
  // the re-sent variants still test precision.
  const resent = new Uint8Array(turns.length);
  for (let j = 0; j < turns.length; j++)
    for (let k = j + 1; k < turns.length; k++) if (wordEditRatio(turns[j]!.t, turns[k]!.t, 0.2) <= 0.2) resent[j] = resent[k] = 1;
  for (let j = 0; j < turns.length; j++) {
    if (resent[j]) continue;
    for (const [kind, rate] of VARIANTS) {
      const e = plantEdit(turns[j]!.t, kind, rate, rnd, word);
      // One word of "hi" substituted is another text, not a copy: such plants would count
      // a correct refusal to merge as a miss, and a match with the other text as a wrong merge.
      if (e.editedWords * 2 > countWords(turns[j]!.t)) continue;
      texts.push(e.text);
      langs.push(turns[j]!.lang);
      original.push(j);
      editKind.push(EDIT_KINDS.indexOf(kind));
      editedWords.push(e.editedWords);
    }
  }
  // Originals first, copies later: with keep: earliest an original is its cluster's keeper.
  const base = Date.UTC(2023, 3, 9) / 1000;
  const rows = (i: number) =>
    JSON.stringify({
      conversation_hash: `h${i}`,
      model: 'gpt-3.5-turbo',
      timestamp: new Date((base + i * 30) * 1000).toISOString(),
      conversation: [
        { role: 'user', content: texts[i]!, turn_identifier: i * 100 },
        { role: 'assistant', content: 'An answer.', turn_identifier: i * 100 },
      ],
      turn: 1,
      language: langs[i],
      toxic: false,
      redacted: false,
      country: 'Nowhere',
      hashed_ip: `ip${i}`,
    });
  return { n: texts.length, rows, texts, original, editKind, editedWords, unplanted: resent.reduce((a, b) => a + b, 0) };
}
