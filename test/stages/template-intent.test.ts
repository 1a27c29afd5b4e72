import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsPatternToRe2, templateIntent, templateIntentSql } from '../../src/stages/intents/template-intent.js';
import { uniform } from '../../src/core/seeded-random.js';
import { withDb } from '../helpers.js';

// Pieces that decide which goal a text gets, and the characters where JavaScript's and RE2's
// regexes part: Unicode spaces (JS \s), letters whose case folds to ASCII only in Unicode
// (U+017F, U+212A, U+0130), word characters around \b, and ends of text.
const PIECES = [
  'translate', 'Translat', 'TRANSLATION', 'code', 'c++', 'C++ ', 'error:', 'Error: x', 'python', 'sql', 'javascript', 'api',
  'solve', 'math', 'maths', 'role play', 'roleplay', 'ROLE PLAY', "let's play", 'act as', 'game', 'story', 'poem', 'script for',
  'write', 'e-mail', 'summarise', 'summarize', 'SUMMARIZE', 'summary', 'idea', 'ideas', 'should i', 'plan', 'what', 'How', 'is', 'do',
  'does', '?', '? ', '?\n', '?\u3000', '?\u00a0', '?\u000b', '?\u2028', '?\ufeff', '?\u200b', '\u3000', '\u00a0', '\u2003', '\u000b',
  '\t', '\n', '\r\n', ' ', '  ', '_', '0', '9', 'x', 'é', 'ſ', 'ſolve', 'co\u212Ae', 'ma\u212Ath', 'K', 'java_', '_code', '1code', 'codes',
  'coding', 'cod', 'pretend', 'ROLEPLAY', 'letter', 'Edit', 'edited', 'İs', 'ı', 'translat\u0130on', '中文', '翻译', 'Привет', '🙂', 'α',
];

function randomText(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 6);
  let s = '';
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(rand() * PIECES.length)]!;
  return s;
}

describe('templateIntentSql', () => {
  it('gives templateIntent on texts built to find where the two regex engines differ', async () => {
    const rand = uniform(20261206);
    const texts = [
      '', 'What is this', '  what is it', '\u3000what', '\u00a0how', '\u000bwhy', '\u2028who', 'ſolve x', 'co\u212Ae', 'İs it?', 'is\u0130',
      'done?', 'done? \n', 'done?x', 'whatever', 'what_', 'what1', 'help me plan', 'planet', 'ideas', 'idea', 'c++ help', 'c+',
      ...Array.from({ length: 4000 }, () => randomText(rand)),
    ];
    await withDb(async (db) => {
      await db.run('CREATE TABLE t (i INTEGER, s VARCHAR)');
      const app = await db.appender('t');
      texts.forEach((s, i) => {
        app.appendInteger(i);
        app.appendVarchar(s);
        app.endRow();
      });
      app.closeSync();
      const rows = await db.all<{ i: number; intent: string }>(`SELECT i, ${templateIntentSql('s')} AS intent FROM t ORDER BY i`);
      const wrong = rows.filter((r) => r.intent !== templateIntent(texts[r.i]!)).map((r) => JSON.stringify(texts[r.i]));
      assert.deepEqual(wrong, []);
      // Every goal is reached, so the comparison covers every arm of the CASE.
      assert.ok(new Set(rows.map((r) => r.intent)).size >= 9, 'every goal and the default appear');
    });
  });

  it('refuses constructs it does not translate', () => {
    assert.throws(() => jsPatternToRe2(/a.b/i), /"\." is not translated/);
    assert.throws(() => jsPatternToRe2(/\d+/i), /escape \\d/);
    assert.throws(() => jsPatternToRe2(/ab/iu), /only the i flag/);
    assert.equal(jsPatternToRe2(/a[sz]\s?/i), '[aA][sSzZ][\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}]?');
  });
});
