import { Command } from 'commander';
import { loadPipeline } from '../config/load-pipeline.js';
import { userKeyWarnings } from '../sources/user-key-warnings.js';

export function validateCommand(): Command {
  return new Command('validate')
    .description('Check a pipeline file against schemas/pipeline.schema.json; every problem is listed with its line.')
    .argument('<pipeline.yaml>', 'pipeline file')
    .action(async (file: string) => {
      const p = await loadPipeline(file);
      for (const w of userKeyWarnings(p)) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(`${file}: valid (${p.config.sources.length} source(s), config hash ${p.configHash.slice(0, 12)})\n`);
    });
}
