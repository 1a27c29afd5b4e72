import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { oneOf } from '../config/schema-kit.js';
import { SourceError } from '../core/errors.js';
import { scratchSelect } from './canonical-select.js';
import { allPaths, bestPath, oasstUsable, type OasstMessage } from './oasst-paths.js';
import { readJsonRecords } from './read-json-records.js';
import { paramPrefix, type AdapterContext, type AdapterResult } from './source-adapter.js';
import { defineSource, type SourceOf } from './source-definition.js';
import { NdjsonWriter } from './write-ndjson.js';
import { assumedLanguage } from './detect-language.js';

const oasstOptions = {
  path: Type.Optional(
    oneOf(['best', 'all'] as const, {
      description:
        'oasst only: best (default) = one conversation per tree, the top-ranked usable reply at each step; all = every root-to-leaf path, the tree being the user group so that paths of one tree never straddle splits. Deleted and review-rejected messages are skipped either way.',
    }),
  ),
};

type OasstSource = SourceOf<typeof oasstOptions>;

/** OpenAssistant oasst1 / oasst2 message trees (*.trees.jsonl, gzip or not): each tree linearized in TypeScript, then mapped in SQL. */
async function oasstAdapter(ctx: AdapterContext<OasstSource>): Promise<AdapterResult> {
  const { source, index, files, scratchDir } = ctx;
  const where = `sources[${index}] (${source.name}, type oasst)`;
  const scratch = join(scratchDir, `source-${index}-oasst.ndjson`);
  const w = new NdjsonWriter(scratch);
  const mode = source.path ?? 'best';
  let trees = 0;
  let ord = 0;
  try {
    for (const f of files) {
      for await (const rec of readJsonRecords(f.path, where)) {
        const r = rec.value as Record<string, unknown>;
        const root = r['prompt'] as OasstMessage | undefined;
        const treeId = typeof r['message_tree_id'] === 'string' ? r['message_tree_id'] : null;
        if (!root || typeof root !== 'object' || treeId === null) {
          throw new SourceError(
            `${f.path}:${rec.line}: not an OpenAssistant message tree (needs message_tree_id and prompt) in ${where}. ` +
              'type oasst reads the *.trees.jsonl(.gz) files; the flat message tables need type: generic.',
          );
        }
        trees++;
        const base = { file: f.path, row: rec.row, tree: treeId, lang: typeof root.lang === 'string' ? root.lang : null, ts: typeof root['created_date'] === 'string' ? root['created_date'] : null };
        const meta = { tree_state: r['tree_state'] ?? null };
        if (!oasstUsable(root)) {
          await w.write({ ...base, cid: treeId, messages: [], meta: JSON.stringify(meta), ord: ord++, drop: 'oasst_prompt_removed' });
          continue;
        }
        const paths = mode === 'best' ? [bestPath(root)] : allPaths(root);
        for (const p of paths) {
          await w.write({ ...base, cid: mode === 'best' ? treeId : `${treeId}:${p.leafId}`, messages: p.turns, meta: JSON.stringify({ ...meta, leaf_message_id: p.leafId }), ord: ord++, drop: rec.invalidUnicode ? 'invalid_unicode' : null });
        }
      }
    }
  } finally {
    await w.close();
  }
  const p = paramPrefix(index);
  const sql = scratchSelect({ p, type: 'oasst', scratch, columns: { tree: 'VARCHAR', lang: 'VARCHAR' }, userKey: `$${p}source || '|tree|' || tree`, language: `coalesce(lang, CAST($${p}language AS VARCHAR))` });
  return {
    sql,
    params: { [`${p}source`]: source.name, [`${p}language`]: assumedLanguage(source), [`${p}split`]: source.split ?? null },
    notes: { trees, path: mode },
  };
}

/** OpenAssistant Conversations (OpenAssistant/oasst1, oasst2): message trees. */
export const oasstSource = defineSource({
  type: 'oasst',
  title: 'OpenAssistant Conversations',
  options: oasstOptions,
  adapter: oasstAdapter,
  defaultLicense: 'apache-2.0',
  citation: `@misc{kopf2023openassistant,
  title  = {OpenAssistant Conversations -- Democratizing Large Language Model Alignment},
  author = {K{\\"o}pf, Andreas and Kilcher, Yannic and von R{\\"u}tte, Dimitri and Anagnostidis, Sotiris and Tam, Zhi-Rui and Stevens, Keith and Barhoum, Abdullah and Duc, Nguyen Minh and Stanley, Oliver and Nagyfi, Rich{\\'a}rd and others},
  year   = {2023},
  eprint = {2304.07327},
  archivePrefix = {arXiv}
}`,
  cardProse: { userKey: 'the message tree (each turn may be written by a different volunteer)' },
  // A path may end on a prompter turn nobody answered.
  defaultRepairs: () => ({ leading_assistant: false, trailing_user: true }),
});
