import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listValue } from '@duckdb/node-api';
import type { FilterOptions } from '../../src/config/pipeline-config.js';
import { sqlString } from '../../src/core/db.js';
import { filterReasonSql } from '../../src/stages/filter/filter-stage.js';
import { languageAliases, lookupLanguage } from '../../src/stages/filter/language-aliases.js';
import { tempDir, withDb } from '../helpers.js';

const OPTS: FilterOptions = { languages: ['English'], drop_toxic: true, drop_redacted: true, drop_control_tokens: false, max_chars_per_turn: 50, min_user_turns: 1, max_user_turns: 3 };
const ok = (n = 1) => Array.from({ length: n }, (_, i) => [{ role: 'user', content: `q${i}` }, { role: 'assistant', content: `a${i}` }]).flat();

const CASES: [string, Record<string, unknown>, string | null][] = [
  ['kept', {}, null],
  ['no messages', { messages: [] }, 'empty_conversation'],
  ['starts with assistant', { messages: [{ role: 'assistant', content: 'a' }, { role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] }, 'starts_with_assistant'],
  ['two user turns in a row', { messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }, { role: 'assistant', content: 'c' }, { role: 'assistant', content: 'd' }] }, 'consecutive_roles'],
  ['two assistant turns in a row', { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'assistant', content: 'c' }] }, 'consecutive_roles'],
  ['ends with the user', { messages: [...ok(1), { role: 'user', content: 'unanswered' }] }, 'ends_with_user'],
  ['a lone assistant turn', { messages: [{ role: 'assistant', content: 'a' }] }, 'starts_with_assistant'],
  ['a system turn in the middle', { messages: [...ok(1), { role: 'system', content: 's' }, { role: 'assistant', content: 'x' }] }, 'unknown_role'],
  ['a null role', { messages: [{ role: null, content: 'q' }, { role: 'assistant', content: 'x' }] }, 'unknown_role'],
  ['an ISO code label', { language: 'en' }, null],
  ['a three-letter code in capitals', { language: 'ENG' }, null],
  ['a lower-case name', { language: 'english ' }, null],
  ['another code', { language: 'es' }, 'language'],
  ['unknown language', { language: null }, 'language_unknown'],
  ['other language', { language: 'Spanish' }, 'language'],
  ['toxic', { toxic: true }, 'toxic'],
  ['redacted', { redacted: true }, 'redacted'],
  ['empty user turn', { messages: [{ role: 'user', content: '' }, { role: 'assistant', content: 'a' }] }, 'empty_user_turn'],
  ['whitespace user turn', { messages: [...ok(1), { role: 'user', content: ' \n\t\u00a0' }, { role: 'assistant', content: 'a' }] }, 'empty_user_turn'],
  ['zero-width user turn', { messages: [{ role: 'user', content: '\u200b\ufeff' }, { role: 'assistant', content: 'a' }] }, 'empty_user_turn'],
  ['empty assistant turn is fine', { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: '' }] }, null],
  ['long paste', { messages: [{ role: 'user', content: 'x'.repeat(51) }, { role: 'assistant', content: 'a' }] }, 'turn_too_long'],
  ['long reply', { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'é'.repeat(51) }] }, 'turn_too_long'],
  ['at the limit', { messages: [{ role: 'user', content: 'é'.repeat(50) }, { role: 'assistant', content: 'a' }] }, null],
  ['too many user turns', { messages: ok(4) }, 'too_many_user_turns'],
  ['first reason wins', { language: 'French', toxic: true, redacted: true }, 'language'],
];

describe('filter reasons', () => {
  it('gives each conversation the first reason that applies', async () => {
    const dir = tempDir();
    const json = join(dir, 'c.json');
    writeFileSync(json, CASES.map(([name, over]) => JSON.stringify({ name, language: 'English', toxic: false, redacted: false, messages: ok(2), ...over })).join('\n'));
    await withDb(async (db) => {
      const rows = await db.all<{ name: string; reason: string | null }>(
        `SELECT name, ${filterReasonSql(OPTS)} AS reason
         FROM read_json(${sqlString(json)}, columns = {name: 'VARCHAR', language: 'VARCHAR', toxic: 'BOOLEAN', redacted: 'BOOLEAN', messages: 'STRUCT(role VARCHAR, content VARCHAR)[]'})`,
        { languages: listValue(languageAliases(OPTS.languages)), max_chars: OPTS.max_chars_per_turn, min_user_turns: OPTS.min_user_turns, max_user_turns: OPTS.max_user_turns! },
      );
      assert.deepEqual(rows.map((r) => [r.name, r.reason]), CASES.map(([n, , r]) => [n, r]));
    });
  });

  it('keeps every language when the list is empty, and toxic rows when told to', async () => {
    await withDb(async (db) => {
      const o = { ...OPTS, languages: [], drop_toxic: false };
      const r = await db.one<{ reason: string | null }>(
        `SELECT ${filterReasonSql(o)} AS reason FROM (SELECT 'Klingon' AS language, true AS toxic, false AS redacted, [{'role': 'user', 'content': 'q'}, {'role': 'assistant', 'content': 'a'}] AS messages)`,
        { max_chars: 50, min_user_turns: 1, max_user_turns: 3 },
      );
      assert.equal(r.reason, null);
    });
  });

  it('spells each language every way the ISO 639 table does', () => {
    assert.deepEqual(languageAliases(['en']), ['en', 'eng', 'english']);
    assert.deepEqual(languageAliases(['Chinese']), ['chi', 'chinese', 'zh', 'zho']);
    assert.deepEqual(languageAliases(['DEU']), ['de', 'deu', 'ger', 'german']);
    assert.deepEqual(languageAliases(['Klingonish']), ['klingonish']);
    assert.equal(lookupLanguage('pt')?.name, 'Portuguese');
    assert.equal(lookupLanguage('nope'), null);
  });
});
