// Language detectors on the 50 real WildChat rows. Needs: npm install --no-save tinyld@1.3.4 eld@2.1.0 franc-min@6.2.0; run from the repository root.
import { readFileSync } from 'node:fs';
import { iso6393 } from 'iso-639-3';
const rows = readFileSync('test/fixtures/wildchat-1m-sample50.jsonl','utf8').trim().split('\n').map(l=>JSON.parse(l));
const byCode = new Map(); for (const l of iso6393) { byCode.set(l.iso6393, l.name); if (l.iso6391) byCode.set(l.iso6391, l.name); }
const text = r => r.conversation.filter(m=>m.role==='user').map(m=>m.content).join('\n').slice(0, 2000);
const { eld } = await import('eld/medium');
const tinyld = await import('tinyld');
const { franc } = await import('franc-min');
const dets = {
  eld: t => eld.detect(t).language,
  tinyld: t => tinyld.detect(t),
  'franc-min': t => franc(t),
};
console.log('labels', [...new Set(rows.map(r=>r.language))]);
for (const [n, f] of Object.entries(dets)) {
  let ok = 0, okEn = 0; const bad = [];
  const t0 = performance.now();
  for (const r of rows) { const c = f(text(r)); const name = byCode.get(c) ?? c; const hit = name?.startsWith(r.language) || (r.language==='Chinese' && /Chinese|Mandarin/.test(name)); if (hit) ok++; else bad.push(`${r.language}->${name}`); if ((name==='English') === (r.language==='English')) okEn++; }
  console.log(n, 'exact', ok, '/50', 'english-vs-not', okEn, '/50', (performance.now()-t0).toFixed(0)+'ms', bad.join(', '));
}
