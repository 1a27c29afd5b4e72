import { homedir } from 'node:os';
import { join } from 'node:path';

/** HF_HOME, as huggingface_hub resolves it: the parent of the cache and of the token file. */
export function hfHome(env: NodeJS.ProcessEnv = process.env): string {
  return env['HF_HOME'] ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'huggingface');
}

/** The shared Hugging Face hub cache, by the same variables and defaults as huggingface_hub. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['HF_HUB_CACHE'] ?? env['HUGGINGFACE_HUB_CACHE'] ?? join(hfHome(env), 'hub');
}
