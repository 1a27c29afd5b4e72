import { createRequire } from 'node:module';

// The DuckDB Node client decodes every VARCHAR with a default TextDecoder, which strips a
// leading U+FEFF: a turn that starts with a byte-order mark reached JS one character short
// (and was counted one token short). Its accessors read the decoder from this module's
// exports at each call, so one decoder that keeps the mark fixes every read. The client is
// pinned; if a new version moves the decoder this fails loudly instead of dropping marks.
const accessors = createRequire(import.meta.url)('@duckdb/node-api/lib/vectors/dataAccessors.js') as { textDecoder?: TextDecoder };
if (!(accessors.textDecoder instanceof TextDecoder)) {
  throw new Error('@duckdb/node-api no longer exposes its text decoder at lib/vectors/dataAccessors.js; update src/core/keep-leading-bom.ts');
}
accessors.textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
