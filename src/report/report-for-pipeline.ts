import type { LoadedPipeline } from '../config/pipeline-config.js';
import { duckdbSize, memoryPlan } from '../core/memory-budget.js';
import { STAGES } from '../stages/recipe.js';
import { writeReport } from './write-report.js';

/** The report of a pipeline's run: into its run_dir and its out_dir, with its configured split fractions. */
export function reportForPipeline(pipeline: LoadedPipeline): ReturnType<typeof writeReport> {
  const c = pipeline.config;
  return writeReport({
    runDir: c.run_dir,
    outDir: c.out_dir,
    stages: STAGES.map((s) => s.name),
    fractions: c.stages.split.fractions,
    threads: c.engine.threads,
    // The report runs after the stages, in DuckDB's share of the budget.
    memoryLimit: duckdbSize(memoryPlan(c.engine.memory_limit, c.engine.threads, pipeline.file).duckdb),
  });
}
