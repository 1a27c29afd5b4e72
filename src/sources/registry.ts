import { genericSource } from './generic.js';
import { oasstSource } from './oasst.js';
import { prismSource } from './prism.js';
import type { SourceDefinition } from './source-definition.js';
import { wildchatSource } from './wildchat.js';

/**
 * The one list of source types. A new type is its own file under src/sources/ exporting a
 * SourceDefinition, plus one entry here; its schema keys, config rules, adapter, licence,
 * citation and card prose then reach validation, normalize, the manifest and the card.
 */
export const SOURCE_DEFINITIONS = [wildchatSource, prismSource, oasstSource, genericSource] as const;

/** The definitions a pipeline is checked and run against (tests pass their own). */
export type SourceRegistry = readonly SourceDefinition<string, any>[];

export function sourceDefinition(type: string, registry: SourceRegistry = SOURCE_DEFINITIONS): SourceDefinition<string, any> {
  const def = registry.find((d) => d.type === type);
  // The schema's enum is built from the same list, so a validated pipeline always finds one.
  if (!def) throw new Error(`unknown source type "${type}"; known: ${registry.map((d) => d.type).join(', ')}`);
  return def;
}
