// The one place secrets are taken out of what the tool writes. Secrets live in the
// environment (API keys, Hub tokens), not in any one module's options, and text from an
// endpoint (an error body, an answer) can quote them anywhere: so every writer (the logger,
// the CLI's error printer, atomic file writes, the response cache, the manifest and card)
// passes its text through redactSecrets, and whoever reads a secret registers it here.

/** Secrets shorter than this would also match ordinary text; they are not redacted (and are refused as keys by every real provider anyway). */
export const MIN_SECRET_CHARS = 8;

/** Environment variables that hold secrets whatever the pipeline says. */
export const SECRET_ENV_VARS = ['OPENAI_API_KEY', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN'] as const;

/** value -> what replaces it (the variable's name, so a reader knows what was there). */
const secrets = new Map<string, string>();
/** Every spelling to look for, longest first, so that one secret inside another is not half-replaced. */
let patterns: [string, string][] = [];

function rebuild(): void {
  const all = new Map<string, string>();
  for (const [value, label] of secrets) {
    // As written, as a JSON string body, and as a URL component: the forms text takes on the way to a file.
    for (const form of [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]) if (!all.has(form)) all.set(form, label);
  }
  patterns = [...all].sort((a, b) => b[0].length - a[0].length);
}

/** Remember a secret; returns false (and redacts nothing) for one too short to redact safely. */
export function registerSecret(value: string | undefined | null, name: string): boolean {
  if (!value) return false;
  const v = value.trim();
  if (v.length < MIN_SECRET_CHARS) return false;
  if (secrets.has(v)) return true;
  secrets.set(v, `[redacted ${name}]`);
  if (v !== value && value.length >= MIN_SECRET_CHARS) secrets.set(value, `[redacted ${name}]`);
  rebuild();
  return true;
}

export function registerEnvironmentSecrets(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of SECRET_ENV_VARS) registerSecret(env[name], name);
}

export function redactSecrets(text: string): string {
  if (patterns.length === 0) return text;
  let out = text;
  for (const [form, label] of patterns) if (out.includes(form)) out = out.split(form).join(label);
  return out;
}

/** For tests: forget every secret. */
export function clearSecrets(): void {
  secrets.clear();
  rebuild();
}
