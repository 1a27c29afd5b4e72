// Language detectors on the 50 real WildChat rows (per conversation, against WildChat's `language`) and their 257
// non-empty user turns (against WildChat's per-message `language`), plus speed on the conversations' texts.
// eld is a dependency; the others: npm install --no-save tinyld@1.3.4 franc-min@6.2.0. Run from the repository root:
//   node docs/measure-language-detectors.mjs
import { readFileSync } from 'node:fs';
import { iso6393 } from 'iso-639-3';
const rows = readFileSync('test/fixtures/wildchat-1m-sample50.jsonl', 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const byCode = new Map();
for (const l of iso6393) { byCode.set(l.iso6393, l.name); if (l.iso6391) byCode.set(l.iso6391, l.name); }
const same = (name, label) => !!name && (name.startsWith(label) || (label === 'Chinese' && /Chinese|Mandarin/.test(name)));
const english = (name, label) => (name === 'English') === (label === 'English');
const CAP = 2000; // what the normalize stage reads (DETECT_CHARS)
const dets = {};
for (const size of ['small', 'medium', 'large']) { const { eld } = await import(`eld/${size}`); dets[`eld-${size}`] = (t) => eld.detect(t).language; }
const tn = await import('tinyld'); dets.tinyld = (t) => tn.detect(t);
const th = await import('tinyld/heavy'); dets['tinyld-heavy'] = (t) => th.detect(t);
const { franc } = await import('franc-min'); dets['franc-min'] = (t) => franc(t);
const convText = (r) => r.conversation.filter((m) => m.role === 'user').map((m) => m.content).join('\n').slice(0, CAP);
const turns = rows.flatMap((r) => r.conversation.filter((m) => m.role === 'user' && m.content.trim()).map((m) => ({ t: m.content.slice(0, CAP), l: m.language })));
const body = rows.map(convText);
const chars = body.reduce((a, b) => a + b.length, 0);
for (const [n, f] of Object.entries(dets)) {
  let ok = 0, en = 0, tok = 0, ten = 0;
  const bad = [];
  for (const r of rows) { const nm = byCode.get(f(convText(r))); if (same(nm, r.language)) ok++; else bad.push(`${r.language}->${nm ?? '?'}`); if (english(nm, r.language)) en++; }
  for (const x of turns) { const nm = byCode.get(f(x.t)); if (same(nm, x.l)) tok++; if (english(nm, x.l)) ten++; }
  const t0 = performance.now();
  for (let k = 0; k < 20; k++) for (const b of body) f(b);
  const s = (performance.now() - t0) / 1000;
  console.log(`${n}: conversations ${ok}/50 (English or not ${en}/50), user turns ${tok}/${turns.length} (English or not ${ten}/${turns.length}), ` +
    `${((20 * chars) / s / 1e6).toFixed(2)} M chars/s (${((20 * body.length) / s).toFixed(0)} conversations/s, one core); misses: ${bad.join(', ')}`);
}
