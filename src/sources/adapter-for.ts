import type { SourceType } from '../config/pipeline-config.js';
import { genericAdapter } from './generic.js';
import { prismAdapter } from './prism.js';
import type { SourceAdapter } from './source-adapter.js';
import { wildchatAdapter } from './wildchat.js';

const ADAPTERS: Record<SourceType, SourceAdapter> = {
  wildchat: wildchatAdapter,
  prism: prismAdapter,
  generic: genericAdapter,
};

export function adapterFor(type: SourceType): SourceAdapter {
  return ADAPTERS[type];
}
