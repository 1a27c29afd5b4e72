import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { readSchema } from '../../src/core/version.js';
import type { Manifest } from '../../src/stages/shards/manifest.js';
import { renderCard, type SampleSchema } from '../../src/stages/shards/render-card.js';
import { CHAT_FORMATS, templateTrailer } from '../../src/stages/tokenize/chat-format.js';
import { axolotlDataset } from '../../src/trainer/axolotl-config.js';

const schema = readSchema<SampleSchema>('sample.schema.json');

function manifest(format: string | undefined, licenses: string[]): Manifest {
  const split = { conversations: 2, samples: 5, users: 2, bytes: 100, num_bytes: 900, files: 1 };
  return {
    name: 'x',
    generator: { name: 'userlm-data', version: '0' },
    sample_schema_version: '1',
    config_hash: 'h',
    pipeline_file: 'p.yaml',
    seed: 1,
    sources: licenses.map((license, i) => ({ name: `s${i}`, type: 'generic', license, hub: null, files: [] })),
    stages: [],
    splits: { train: split, test: { ...split, num_bytes: 300 } },
    leaks: null,
    tokens: {
      tokenizer: 't',
      tokenizer_sha256: 'x',
      ...(format ? { format } : {}),
      max_seq_len: 8192,
      end_token: '<|endconversation|>',
      overflow: 'truncate_history',
      splits: {},
      dropped_without_split: 0,
    },
    files: [
      { path: 'data/train-00000-of-00001.parquet', split: 'train', rows: 5, bytes: 100, sha256: 'a' },
      { path: 'data/test-00000-of-00001.parquet', split: 'test', rows: 5, bytes: 100, sha256: 'b' },
    ],
  };
}

const front = (card: string) => parseYaml(card.split(/^---$/m)[1]!);
const block = (card: string, lang: string, n = 0) => card.split(`\`\`\`${lang}\n`)[n + 1]!.split('\n```')[0]!;

describe('dataset card sections', () => {
  it('lists every licence when the sources differ, and says the intents are machine-generated', () => {
    const card = renderCard(manifest('userlm-8b', ['odc-by', 'cc-by-4.0', 'odc-by']), schema, { languages: ['English'], endToken: '<|endconversation|>' });
    assert.deepEqual(front(card).license, ['cc-by-4.0', 'odc-by']);
    assert.deepEqual(front(card).annotations_creators, ['machine-generated']);
    assert.match(card, /- `s1`: cc-by-4\.0/);
    assert.equal(front(renderCard(manifest('userlm-8b', ['mit']), schema, { languages: [], endToken: 'e' })).license, 'mit');
  });

  it('gives num_bytes (Arrow size), dataset_size and download_size as datasets means them', () => {
    const info = front(renderCard(manifest('userlm-8b', ['mit']), schema, { languages: [], endToken: 'e' })).dataset_info;
    assert.deepEqual(info.splits.map((s: { num_bytes: number }) => s.num_bytes), [900, 300]);
    assert.equal(info.dataset_size, 1200);
    assert.equal(info.download_size, 200);
  });

  it('describes the chosen format: userlm-8b, or llama3 for manifests without one', () => {
    const u = renderCard(manifest('userlm-8b', ['mit']), schema, { languages: [], endToken: 'e' });
    assert.match(u, /Training format \(`userlm-8b`.*no `<\|begin_of_text\|>`.*<\|end_header_id\|>\\n\{content\}/);
    const l = renderCard(manifest(undefined, ['mit']), schema, { languages: [], endToken: 'e' });
    assert.match(l, /Training format \(Llama-3 headers.*`<\|begin_of_text\|>`, then per message `<\|start_header_id\|>\{role\}<\|end_header_id\|>\\n\\n\{content\}/);
  });

  it('quotes TRL and axolotl set up as userlm-data train sets them: the template, the end token, the dataset type', () => {
    for (const name of ['userlm-8b', 'llama3'] as const) {
      const f = CHAT_FORMATS[name];
      const card = renderCard(manifest(name, ['mit']), schema, { languages: [], endToken: 'e' });
      const trl = block(card, 'python', 1);
      assert.equal(JSON.parse(/^CHAT_TEMPLATE = (.*)$/m.exec(trl)![1]!), f.template);
      assert.equal(JSON.parse(/^TRAILER = (".*?")  #/m.exec(trl)![1]!), templateTrailer(f));
      assert.match(trl, /tokenizer\.add_tokens\(\[AddedToken\("<\|endconversation\|>", special=False, normalized=False\)\]\)/);
      assert.match(trl, /tokenizer\.eos_token = "<\|eot_id\|>"/);
      assert.match(trl, /max_length=8192, completion_only_loss=True/);
      const axolotl = parseYaml(block(card, 'yaml'));
      assert.deepEqual(axolotl.datasets, [axolotlDataset('.', ['data/train-00000-of-00001.parquet'], f.template)]);
      assert.deepEqual(axolotl.special_tokens.additional_special_tokens, ['<|endconversation|>']);
      assert.equal(axolotl.sequence_len, 8192);
      assert.match(card, /`userlm_axolotl\/chat\.py`:\n\n```python\n"""axolotl dataset type `userlm_axolotl\.chat`/);
    }
  });
});
