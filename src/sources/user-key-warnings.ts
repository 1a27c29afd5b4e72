import type { LoadedPipeline } from '../config/pipeline-config.js';
import { sourceDefinition } from './registry.js';

/**
 * Sources with nothing that identifies a user: each of their conversations becomes its own
 * user, so the split is by conversation, not by user. Said by plan, validate and run.
 */
export function userKeyWarnings(pipeline: LoadedPipeline): string[] {
  const out: string[] = [];
  for (const [i, s] of pipeline.config.sources.entries()) {
    if (s.split) continue;
    const def = sourceDefinition(s.type);
    if (def.userKey && def.userKey(s) === null) {
      out.push(
        `sources[${i}] (${s.name}) has no user field (user_key: none): its conversations are split by conversation, not by user, ` +
          'so one person\'s conversations may land in train and test. Map fields.user (with user_pattern if needed) when the corpus has one.',
      );
    }
  }
  return out;
}
