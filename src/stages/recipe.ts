import type { LoadedPipeline } from '../config/pipeline-config.js';
import type { Logger } from '../core/logger.js';
import { runPipeline, type RunResult } from '../core/runner.js';
import type { AnyStageSpec } from '../core/stage.js';
import { dedupStage } from './dedup/dedup-stage.js';
import { filterStage } from './filter/filter-stage.js';
import { flipStage } from './flip/flip-stage.js';
import { intentsStage } from './intents/intents-stage.js';
import { normalizeStage } from './normalize/normalize-stage.js';
import { claimOutDir, exportDataset } from './shards/export-dataset.js';
import { shardsStage } from './shards/shards-stage.js';
import { splitStage } from './split/split-stage.js';
import { tokenizeStage } from './tokenize/tokenize-stage.js';
import { createOpenAIClient } from '../llm/openai-client.js';
import { stageDir } from '../core/runner.js';

/** The recipe, in order: the only place that orders stages. Each stage reads the previous one's data. */
export const STAGES: AnyStageSpec[] = [normalizeStage, filterStage, dedupStage, intentsStage, flipStage, tokenizeStage, splitStage, shardsStage];

export interface BuildResult extends RunResult {
  outDir: string;
  exported: 'unchanged' | 'written';
}

/** Run every stage (skipping finished ones), then publish the shards stage's files to out_dir. */
export async function buildDataset(pipeline: LoadedPipeline, log: Logger): Promise<BuildResult> {
  // A missing API key should stop the run now, not after the stages before intents.
  const intents = pipeline.config.stages.intents;
  if (intents.backend !== 'template') createOpenAIClient(intents, pipeline.file);
  // A foreign out_dir (a user's folder, another pipeline's dataset) stops the run before hours of stages.
  const owner = { runDir: pipeline.config.run_dir, pipelineFile: pipeline.file };
  await claimOutDir(pipeline.config.out_dir, owner);
  let exported: BuildResult['exported'] = 'unchanged';
  const result = await runPipeline(pipeline, STAGES, {
    log,
    finalize: async (r) => {
      const last = r.markers[r.markers.length - 1]!;
      exported = await exportDataset(stageDir(pipeline.config.run_dir, shardsStage), last, pipeline.config.out_dir, log, owner);
    },
  });
  return { ...result, outDir: pipeline.config.out_dir, exported };
}
