import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthError } from '../core/errors.js';
import { registerSecret } from '../core/redact-secrets.js';
import { hfHome, hubCacheDir } from './hub-cache-dir.js';

export interface HubSettings {
  /** Where the Hub is; HF_ENDPOINT points elsewhere (a mirror, or a local server in tests). */
  endpoint: string;
  /** The shared Hugging Face cache (blobs/, snapshots/, refs/ per repo). */
  cacheDir: string;
  /** From HF_TOKEN, else the token file `huggingface-cli login` writes. Never logged. */
  token: string | undefined;
  /** HF_HUB_OFFLINE=1: as if every command got --offline. */
  offline: boolean;
}

const truthy = (v: string | undefined) => v !== undefined && ['1', 'true', 'yes', 'on'].includes(v.toLowerCase());

/**
 * The same environment variables and defaults as the Python huggingface_hub library, so that
 * both share one cache and one login.
 */
export function hubSettings(env: NodeJS.ProcessEnv = process.env): HubSettings {
  const cacheDir = hubCacheDir(env);
  let token = env['HF_TOKEN'] ?? env['HUGGING_FACE_HUB_TOKEN'];
  let tokenFrom = 'HF_TOKEN';
  if (!token) {
    const file = env['HF_TOKEN_PATH'] ?? join(hfHome(env), 'token');
    try {
      token = readFileSync(file, 'utf8').trim() || undefined;
      tokenFrom = file;
    } catch {
      token = undefined;
    }
  }
  if (token !== undefined && !token.startsWith('hf_')) {
    throw new AuthError(`the Hugging Face token in ${tokenFrom} is not one (access tokens start with "hf_"); copy it again from https://huggingface.co/settings/tokens`);
  }
  registerSecret(token, 'HF_TOKEN');
  return {
    endpoint: (env['HF_ENDPOINT'] ?? 'https://huggingface.co').replace(/\/+$/, ''),
    cacheDir,
    token,
    offline: truthy(env['HF_HUB_OFFLINE']),
  };
}
