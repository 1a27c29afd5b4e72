import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { END_TOKEN, flipConversation, type ChatMessage } from '../../src/stages/flip/flip-conversation.js';
import type { BpeTokenizer } from '../../src/stages/tokenize/bpe-tokenizer.js';
import { CHAT_FORMATS, checkChatFormat, encodeTrainingSample, renderCompletion, renderPrompt, renderTrainingText, renderWithTemplate } from '../../src/stages/tokenize/chat-format.js';
import { countConversationSamples, type CountOptions } from '../../src/stages/tokenize/count-conversation-samples.js';
import { fitSample } from '../../src/stages/tokenize/fit-sample.js';
import { loadTokenizer } from '../../src/stages/tokenize/load-tokenizer.js';
import { onigToJsRegex } from '../../src/stages/tokenize/onig-to-js-regex.js';
import { REALDATA, ROOT } from '../helpers.js';
import { referenceIds } from '../reference-tokenizer.js';

interface Vector { source_line: number; text: string; ids: number[]; bos?: boolean }
const vectors = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'llama3-token-vectors.json'), 'utf8')) as { bos_id: number; vectors: Vector[] };

let tok: BpeTokenizer;
before(async () => {
  tok = (await loadTokenizer({ tokenizerJson: null, endToken: END_TOKEN })).tokenizer;
});

function realMessages(): string[] {
  const rows = readFileSync(join(REALDATA, 'wildchat-1m-sample50.jsonl'), 'utf8').trim().split('\n');
  return rows.flatMap((l) => (JSON.parse(l) as { conversation: { content: string }[] }).conversation.map((m) => m.content));
}

describe('Llama-3 token ids', () => {
  it('equal the test vectors shipped with llama3-tokenizer-js (special tokens and non-English text included)', () => {
    assert.ok(vectors.vectors.length >= 15);
    for (const v of vectors.vectors) {
      const ids = v.bos ? [vectors.bos_id, ...tok.encode(v.text)] : tok.encode(v.text);
      assert.deepEqual(ids, v.ids, `line ${v.source_line}: ${JSON.stringify(v.text.slice(0, 40))}`);
    }
  });

  it('equal Hugging Face tokenizers on 516 real WildChat messages (19 conversations not in English)', async () => {
    const texts = realMessages();
    assert.equal(texts.length, 516);
    for (const t of texts) assert.deepEqual(tok.encode(t), await referenceIds(t), JSON.stringify(t.slice(0, 60)));
  });

  it('equal Hugging Face tokenizers on whitespace, scripts and special-token edge cases', async () => {
    const cases = [
      'Привет, как дела? Я хочу написать письмо.', '你好，请帮我写一封邮件。', 'مرحبا، كيف حالك؟', 'नमस्ते, आप कैसे हैं?',
      'こんにちは、元気ですか？', 'Ünïcödé façade naïve résumé', "I'M SURE it'S fine, we'Ve SEEN it'll work ſ'S",
      'a\u0085b\ufeffc\u00a0d\u3000e', '\n\n\nhello', ' \n \n  x', '12345678901', 'emoji 👩‍👩‍👧‍👦 family 🇫🇷',
      `${END_TOKEN}`, `text${END_TOKEN}more<|eot_id|>`, '<|endconversation|', '<|begin_of_text|><|begin_of_text|>',
      'tabs\t\t\tand\r\nwindows\r\n', '',
    ];
    for (const t of cases) assert.deepEqual(tok.encode(t), await referenceIds(t), JSON.stringify(t));
  });

  it('equal Hugging Face tokenizers on pre-tokens of thousands of bytes (unspaced Chinese, Thai, Japanese, base64, one repeated letter)', async () => {
    // Words past 24 bytes merge through the heap, not the scan: both must give the Rust library's ids.
    let x = 12345;
    const rnd = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n);
    const from = (alphabet: string, n: number) => Array.from({ length: n }, () => alphabet[rnd(alphabet.length)]).join('');
    const cases = [
      from('的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年', 3000),
      from('กขคงจฉชซญดตถทนบปผพฟมยรลวศสหอะาิีึืุูเแโใไ่้๊๋', 2000),
      from('あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん', 2000),
      from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 4000),
      'a'.repeat(5000),
      'ab'.repeat(3000),
      from('ab', 70) + ' ' + from('xyz', 65),
    ];
    for (const t of cases) {
      assert.deepEqual(tok.encode(t), await referenceIds(t), JSON.stringify(t.slice(0, 40)));
      assert.equal(tok.count(t), (await referenceIds(t)).length);
    }
  });

  it('equal Hugging Face tokenizers on unspaced text in three-byte characters, which is merged in pieces cut where no token can cross', async () => {
    // Random characters from whole blocks (CJK, kana, Hangul, Thai, the rest of the BMP): the
    // cuts of hard-boundaries.ts fall between nearly all of them, and every cut must be one no
    // merge would have crossed.
    let x = 7;
    const rnd = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n);
    const blocks = [[0x4e00, 0x9fff], [0x3040, 0x30ff], [0xac00, 0xd7a3], [0x0e01, 0x0e5b], [0x0800, 0xd7ff], [0xe000, 0xffff], [0x3000, 0x303f]] as const;
    let cut = 0;
    for (let k = 0; k < 1400; k++) {
      const [lo, hi] = blocks[k % blocks.length]!;
      let t = '';
      for (let i = 1 + rnd(40); i > 0; i--) t += String.fromCharCode(lo + rnd(hi - lo + 1));
      const ref = await referenceIds(t);
      assert.deepEqual(tok.encode(t), ref, JSON.stringify(t));
      assert.equal(tok.count(t), ref.length, JSON.stringify(t));
      if (ref.length > 1) cut++;
    }
    assert.ok(cut > 1000);
  });

  it('add <|endconversation|> as one special token after the vocabulary', () => {
    assert.deepEqual(tok.encode(END_TOKEN), [128256]);
    assert.equal(tok.count(`a${END_TOKEN}b`), 3);
  });
});

describe('onigToJsRegex', () => {
  it('gives \\s the White_Space set of Oniguruma (U+0085 yes, U+FEFF no)', () => {
    const re = new RegExp(`^${onigToJsRegex('\\s+')}$`, 'u');
    assert.ok(re.test('\u0085\u00a0\u2028'));
    assert.ok(!re.test('\ufeff'));
    assert.ok(new RegExp(`^${onigToJsRegex('[^\\s\\p{L}]')}$`, 'u').test('\ufeff'));
  });

  it('rewrites (?i:...) letter by letter, long s included', () => {
    const re = new RegExp(`^${onigToJsRegex("(?i:'s|'ll)")}$`, 'u');
    for (const s of ["'s", "'S", "'\u017f", "'ll", "'LL", "'lL"]) assert.ok(re.test(s), s);
    assert.ok(!re.test("'x"));
    assert.throws(() => onigToJsRegex('(?x)a'), /inline flags/);
  });
});

describe('fitSample', () => {
  const history = [10, 20, 30, 40];
  it('keeps a sample that fits', () => {
    assert.deepEqual(fitSample(50, history, 4, 200, 'truncate_history'), { tokens: 150, historyDropped: 0, tooLong: false });
  });
  it('drops the oldest whole exchanges until it fits', () => {
    assert.deepEqual(fitSample(50, history, 4, 140, 'truncate_history'), { tokens: 120, historyDropped: 2, tooLong: false });
    assert.deepEqual(fitSample(50, history, 4, 60, 'truncate_history'), { tokens: 50, historyDropped: 4, tooLong: false });
  });
  it('drops the sample under the drop policy, and always when intent and target alone overflow', () => {
    assert.deepEqual(fitSample(50, history, 4, 140, 'drop'), { tokens: 150, historyDropped: 0, tooLong: true });
    assert.deepEqual(fitSample(50, history, 4, 49, 'truncate_history'), { tokens: 150, historyDropped: 0, tooLong: true });
  });
});

describe('the userlm-8b training format (UserLM-8b\'s own template)', () => {
  const f = CHAT_FORMATS['userlm-8b'];
  const intent = 'You are a user chatting with an assistant language model to plan a trip.';
  const conversation: ChatMessage[] = [
    { role: 'user', content: 'Plan 3 days in Lyon?' },
    { role: 'assistant', content: 'Day 1: Vieux Lyon.' },
    { role: 'user', content: '\nCheaper, please.' },
    { role: 'assistant', content: 'Picnic by the Saône.' },
  ];
  const samples = flipConversation(intent, conversation);
  const count = (o: Partial<CountOptions> = {}) =>
    countConversationSamples(tok, intent, conversation, { maxSeqLen: 2048, overflow: 'truncate_history', endToken: END_TOKEN, format: f, ...o }).samples;
  // FACTS.md: per message <|start_header_id|>{role}<|end_header_id|>\n{content}<|eot_id|>, no
  // <|begin_of_text|>, and the user header always appended; the generated turn starts with \n.
  const sys = `<|start_header_id|>system<|end_header_id|>\n${intent}<|eot_id|>`;
  const turn1 = '<|start_header_id|>user<|end_header_id|>\nPlan 3 days in Lyon?<|eot_id|>';
  const reply1 = '<|start_header_id|>assistant<|end_header_id|>\nDay 1: Vieux Lyon.<|eot_id|>';
  const turn2 = '<|start_header_id|>user<|end_header_id|>\n\nCheaper, please.<|eot_id|>';
  const reply2 = '<|start_header_id|>assistant<|end_header_id|>\nPicnic by the Saône.<|eot_id|>';
  const golden = [
    { prompt: `${sys}<|start_header_id|>user<|end_header_id|>`, completion: '\nPlan 3 days in Lyon?<|eot_id|>' },
    { prompt: `${sys}${turn1}${reply1}<|start_header_id|>user<|end_header_id|>`, completion: '\n\nCheaper, please.<|eot_id|>' },
    { prompt: `${sys}${turn1}${reply1}${turn2}${reply2}<|start_header_id|>user<|end_header_id|>`, completion: '\n<|endconversation|><|eot_id|>' },
  ];

  it('the Jinja template renders each kind\'s prompt as UserLM-8b\'s template does, with or without a generation prompt', () => {
    assert.deepEqual(samples.map((s) => s.kind), ['initiation', 'interaction', 'termination']);
    for (const [i, s] of samples.entries()) {
      assert.equal(renderWithTemplate(f.template, s.messages, true), golden[i]!.prompt);
      assert.equal(renderWithTemplate(f.template, s.messages, false), golden[i]!.prompt, 'the user header is appended whatever add_generation_prompt');
      assert.equal(renderPrompt(f, s.messages), golden[i]!.prompt);
      assert.equal(renderTrainingText(f, s.messages, s.target), golden[i]!.prompt + golden[i]!.completion);
    }
    assert.ok(!renderWithTemplate(f.template, samples[2]!.messages, false).includes('<|begin_of_text|>'));
  });

  it('token ids: no begin-of-text, one newline id after each header, <|endconversation|> one id, the loss on the generated turn only', async () => {
    const [START, END, EOT_ID, NL, SYSTEM, USER, ASSISTANT, ENDCONV] = [128006, 128007, 128009, 198, 9125, 882, 78191, 128256];
    const init = encodeTrainingSample(f, tok, samples[0]!.messages, samples[0]!.target);
    assert.deepEqual(init.ids, [START, SYSTEM, END, NL, ...(await referenceIds(intent)), EOT_ID, START, USER, END, ...(await referenceIds('\nPlan 3 days in Lyon?')), EOT_ID]);
    const term = encodeTrainingSample(f, tok, samples[2]!.messages, samples[2]!.target);
    assert.deepEqual(term.ids.slice(-6), [START, USER, END, NL, ENDCONV, EOT_ID]);
    assert.equal(term.ids.filter((t) => t === ASSISTANT).length, 2);
    for (const [i, s] of samples.entries()) {
      const e = encodeTrainingSample(f, tok, s.messages, s.target);
      assert.deepEqual(e.ids, await referenceIds(golden[i]!.prompt + golden[i]!.completion));
      const prompt = await referenceIds(golden[i]!.prompt);
      assert.deepEqual(e.ids.slice(0, prompt.length), prompt, 'the prompt is a token prefix of prompt + completion, even for a target starting with a newline');
      assert.deepEqual(e.ids.filter((_, j) => e.mask[j] === 1), await referenceIds(golden[i]!.completion));
      assert.notEqual(e.ids[0], 128000);
    }
  });

  it('counts each sample as the sum of per-message counts, equal to tokenizing the Jinja rendering', async () => {
    const counted = count();
    assert.equal(counted.length, samples.length);
    for (const [i, s] of samples.entries()) {
      const text = renderWithTemplate(f.template, s.messages, true) + renderCompletion(f, s.target);
      assert.equal(counted[i]!.num_tokens, (await referenceIds(text)).length);
      assert.equal(counted[i]!.num_target_tokens, (await referenceIds(golden[i]!.completion)).length);
    }
    assert.equal(counted[2]!.num_target_tokens, 3, '\\n, <|endconversation|>, <|eot_id|>');
  });

  it('truncates to max_seq_len from the oldest exchange, and the truncated sample has the counted length', async () => {
    const full = count();
    const cap = full[2]!.num_tokens - 1;
    const cut = count({ maxSeqLen: cap });
    assert.equal(cut[2]!.history_messages_dropped, 2);
    const kept = [samples[2]!.messages[0]!, ...samples[2]!.messages.slice(3)];
    assert.equal(cut[2]!.num_tokens, (await referenceIds(renderTrainingText(f, kept, END_TOKEN))).length);
    assert.ok(cut[2]!.num_tokens <= cap);
    assert.equal(count({ maxSeqLen: cap, overflow: 'drop' })[2]!.too_long, true);
  });

  it('refuses a layout that differs from its template', () => {
    assert.doesNotThrow(() => checkChatFormat(f));
    assert.throws(() => checkChatFormat({ ...f, name: 'llama3', headerSep: '\n\n' }), /chat format llama3: the template renders the (prompt|training text)/);
  });
});

describe('the llama3 training format (kept as an option)', () => {
  const f = CHAT_FORMATS.llama3;
  const samples = flipConversation('You are a user chatting with an assistant language model to test.', [
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello' },
  ]);
  it('renders begin-of-text and two newlines, the generation prompt only when asked, and counts like its Jinja rendering', async () => {
    checkChatFormat(f);
    const s = samples[1]!;
    assert.equal(
      renderWithTemplate(f.template, s.messages, true),
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a user chatting with an assistant language model to test.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n',
    );
    assert.ok(!renderWithTemplate(f.template, s.messages, false).endsWith('<|start_header_id|>user<|end_header_id|>\n\n'));
    const counted = countConversationSamples(tok, 'You are a user chatting with an assistant language model to test.', [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }], { maxSeqLen: 2048, overflow: 'drop', endToken: END_TOKEN, format: f }).samples;
    assert.equal(counted[1]!.num_tokens, (await referenceIds(renderTrainingText(f, s.messages, s.target))).length);
  });
});
