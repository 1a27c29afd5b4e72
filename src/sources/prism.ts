import { join } from 'node:path';
import { scratchSelect } from './canonical-select.js';
import { linearizePrism, type PrismRepair } from './linearize-prism.js';
import { scanJsonl } from './scan-jsonl.js';
import { paramPrefix, type AdapterContext, type AdapterResult } from './source-adapter.js';
import { defineSource } from './source-definition.js';
import { NdjsonWriter } from './write-ndjson.js';
import { assumedLanguage } from './detect-language.js';

/** PRISM conversations.jsonl: linearize the chosen path (TypeScript), then map in SQL. */
async function prismAdapter(ctx: AdapterContext): Promise<AdapterResult> {
  const { source, index, files, scratchDir } = ctx;
  const scratch = join(scratchDir, `source-${index}-prism.ndjson`);
  const w = new NdjsonWriter(scratch);
  const repairs: Record<PrismRepair, number> = { multiple_chosen: 0, missing_choice_truncated: 0, multiple_user_items: 0 };
  let ord = 0;
  try {
    for (const f of files) {
      for await (const rec of scanJsonl(f.path, `sources[${index}] (${source.name}, type prism)`)) {
        const r = rec.value as Record<string, unknown>;
        const lin = linearizePrism(r['conversation_history']);
        for (const rep of new Set(lin.repairs)) repairs[rep]++;
        const cid = typeof r['conversation_id'] === 'string' || typeof r['conversation_id'] === 'number' ? String(r['conversation_id']) : `row${rec.row}`;
        const user = typeof r['user_id'] === 'string' || typeof r['user_id'] === 'number' ? String(r['user_id']) : null;
        await w.write({
          cid,
          file: f.path,
          row: rec.row,
          user,
          ts: typeof r['generated_datetime'] === 'string' ? r['generated_datetime'] : null,
          messages: lin.messages,
          meta: JSON.stringify({
            conversation_type: r['conversation_type'] ?? null,
            included_in_balanced_subset: r['included_in_balanced_subset'] ?? null,
            repairs: lin.repairs,
          }),
          ord: ord++,
          drop: rec.invalidUnicode ? 'invalid_unicode' : lin.dropReason ?? null,
        });
      }
    }
  } finally {
    await w.close();
  }
  const p = paramPrefix(index);
  const sql = scratchSelect({ p, type: 'prism', scratch, columns: { '"user"': 'VARCHAR' }, userKey: `CASE WHEN "user" IS NULL THEN NULL ELSE 'prism|' || "user" END`, language: `CAST($${p}language AS VARCHAR)` });
  const notes: Record<string, number> = {};
  for (const [k, v] of Object.entries(repairs)) if (v) notes[`prism_${k}`] = v;
  return {
    sql,
    // PRISM has no language field; it was collected in English.
    params: { [`${p}source`]: source.name, [`${p}language`]: source.language === undefined ? 'English' : assumedLanguage(source), [`${p}split`]: source.split ?? null },
    notes,
  };
}

/** PRISM conversations.jsonl (HannahRoseKirk/prism-alignment). */
export const prismSource = defineSource({
  type: 'prism',
  title: 'PRISM',
  options: {},
  adapter: prismAdapter,
  defaultLicense: 'cc-by-nc-4.0',
  citation: `@misc{kirk2024prism,
  title  = {The PRISM Alignment Project: What Participatory, Representative and Individualised Human Feedback Reveals About the Subjective and Multicultural Alignment of Large Language Models},
  author = {Kirk, Hannah Rose and Whitefield, Alexander and R{\\"o}ttger, Paul and Bean, Andrew and Margatina, Katerina and Ciro, Juan and Mosquera, Rafael and Bartolo, Max and Williams, Adina and He, He and Vidgen, Bertie and Hale, Scott A.},
  year   = {2024},
  eprint = {2404.16019},
  archivePrefix = {arXiv}
}`,
  cardProse: {},
  userKey: () => 'the user_id field',
});
