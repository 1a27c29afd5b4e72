import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { END_TOKEN, flipConversation, type ChatMessage } from '../../src/stages/flip/flip-conversation.js';
import type { BpeTokenizer } from '../../src/stages/tokenize/bpe-tokenizer.js';
import { encodeTrainingSample, renderPrompt, renderTrainingText } from '../../src/stages/tokenize/chat-format.js';
import { countConversationSamples } from '../../src/stages/tokenize/count-conversation-samples.js';
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

describe('the UserLM training format', () => {
  const intent = 'You are a user chatting with an assistant language model to plan a trip.';
  const conversation: ChatMessage[] = [
    { role: 'user', content: 'Plan 3 days in Lyon?' },
    { role: 'assistant', content: 'Day 1: Vieux Lyon.' },
    { role: 'user', content: 'Cheaper, please.' },
    { role: 'assistant', content: 'Picnic by the Saône.' },
  ];
  const samples = flipConversation(intent, conversation);

  it('renders initiation, interaction and termination samples exactly', () => {
    const sys = `<|start_header_id|>system<|end_header_id|>\n\n${intent}<|eot_id|>`;
    assert.equal(
      renderTrainingText(samples[0]!.messages, samples[0]!.target),
      `<|begin_of_text|>${sys}<|start_header_id|>user<|end_header_id|>\n\nPlan 3 days in Lyon?<|eot_id|>`,
    );
    assert.equal(
      renderTrainingText(samples[1]!.messages, samples[1]!.target),
      `<|begin_of_text|>${sys}<|start_header_id|>user<|end_header_id|>\n\nPlan 3 days in Lyon?<|eot_id|>` +
        `<|start_header_id|>assistant<|end_header_id|>\n\nDay 1: Vieux Lyon.<|eot_id|>` +
        `<|start_header_id|>user<|end_header_id|>\n\nCheaper, please.<|eot_id|>`,
    );
    assert.equal(
      renderTrainingText(samples[2]!.messages, samples[2]!.target),
      `<|begin_of_text|>${sys}<|start_header_id|>user<|end_header_id|>\n\nPlan 3 days in Lyon?<|eot_id|>` +
        `<|start_header_id|>assistant<|end_header_id|>\n\nDay 1: Vieux Lyon.<|eot_id|>` +
        `<|start_header_id|>user<|end_header_id|>\n\nCheaper, please.<|eot_id|>` +
        `<|start_header_id|>assistant<|end_header_id|>\n\nPicnic by the Saône.<|eot_id|>` +
        `<|start_header_id|>user<|end_header_id|>\n\n<|endconversation|><|eot_id|>`,
    );
  });

  it('trains exactly the target tokens and its <|eot_id|>', async () => {
    // Llama-3 ids written out: "Cheaper, please." and the end token with <|eot_id|> (128009).
    const trained = (s: (typeof samples)[number]) => {
      const e = encodeTrainingSample(tok, s.messages, s.target);
      return e.ids.filter((_, i) => e.mask[i] === 1);
    };
    assert.deepEqual(trained(samples[1]!), [...(await referenceIds('Cheaper, please.')), 128009]);
    assert.deepEqual(trained(samples[2]!), [128256, 128009]);
    for (const s of samples) {
      const e = encodeTrainingSample(tok, s.messages, s.target);
      assert.deepEqual(e.ids, await referenceIds(renderTrainingText(s.messages, s.target)));
      const prompt = await referenceIds(renderPrompt(s.messages));
      assert.deepEqual(e.ids.slice(0, prompt.length), prompt, 'the prompt is a prefix of the training ids');
      assert.equal(e.mask.indexOf(1), prompt.length);
      assert.equal(e.ids.at(-1), 128009);
    }
  });

  it('counts each sample as the sum of per-message counts, equal to tokenizing the whole sample', async () => {
    const { samples: counted } = countConversationSamples(tok, intent, conversation, { maxSeqLen: 2048, overflow: 'truncate_history', endToken: END_TOKEN });
    assert.equal(counted.length, samples.length);
    for (const [i, s] of samples.entries()) {
      const ids = await referenceIds(renderTrainingText(s.messages, s.target));
      assert.equal(counted[i]!.num_tokens, ids.length);
      const e = encodeTrainingSample(tok, s.messages, s.target);
      assert.equal(counted[i]!.num_target_tokens, e.mask.reduce((a, b) => a + b, 0));
    }
  });

  it('truncates to max_seq_len from the oldest exchange, and the truncated sample has the counted length', async () => {
    const full = countConversationSamples(tok, intent, conversation, { maxSeqLen: 2048, overflow: 'truncate_history', endToken: END_TOKEN }).samples;
    const cap = full[2]!.num_tokens - 1;
    const cut = countConversationSamples(tok, intent, conversation, { maxSeqLen: cap, overflow: 'truncate_history', endToken: END_TOKEN }).samples;
    assert.equal(cut[2]!.history_messages_dropped, 2);
    const kept = [samples[2]!.messages[0]!, ...samples[2]!.messages.slice(3)];
    assert.equal(cut[2]!.num_tokens, (await referenceIds(renderTrainingText(kept, END_TOKEN))).length);
    assert.ok(cut[2]!.num_tokens <= cap);
    const dropped = countConversationSamples(tok, intent, conversation, { maxSeqLen: cap, overflow: 'drop', endToken: END_TOKEN }).samples;
    assert.equal(dropped[2]!.too_long, true);
  });
});
