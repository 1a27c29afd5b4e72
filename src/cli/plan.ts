import { Command } from 'commander';
import { userKeyWarnings } from '../sources/user-key-warnings.js';
import { stringify } from 'yaml';
import { loadPipeline } from '../config/load-pipeline.js';
import { Db } from '../core/db.js';
import { planPipeline } from '../core/runner.js';
import { STAGES } from '../stages/recipe.js';

export function planCommand(): Command {
  return new Command('plan')
    .description('Show the resolved config (defaults filled in) and which stages are done or would run. Writes nothing.')
    .argument('<pipeline.yaml>', 'pipeline file')
    .option('--json', 'print the plan as JSON', false)
    .action(async (file: string, opts: { json: boolean }) => {
      const p = await loadPipeline(file);
      for (const w of userKeyWarnings(p)) process.stderr.write(`warning: ${w}\n`);
      const db = await Db.open({ threads: 1 });
      try {
        const plan = await planPipeline(p, STAGES, db);
        if (opts.json) {
          process.stdout.write(
            JSON.stringify({ config: p.config, config_hash: p.configHash, stages: plan.map(({ marker: _m, ...s }) => s) }, null, 2) + '\n',
          );
          return;
        }
        process.stdout.write(`# resolved config of ${file} (hash ${p.configHash})\n${stringify(p.config)}\n`);
        process.stdout.write(`# stages (run dir ${p.config.run_dir})\n`);
        for (const s of plan) {
          process.stdout.write(`${String(s.index + 1).padStart(2)}. ${s.name.padEnd(10)} ${s.status.padEnd(8)} ${s.reason}\n`);
        }
      } finally {
        db.close();
      }
    });
}
