import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { SourceError } from '../core/errors.js';

export interface JsonlRecord {
  /** 0-based index among the file's records (blank lines are not records). */
  row: number;
  /** 1-based line number in the file, for messages. */
  line: number;
  value: unknown;
}

/**
 * Stream a JSON-lines file record by record. A line that is not JSON stops the run with
 * its file and line number: a silently skipped line would be a silently lost conversation.
 */
export async function* scanJsonl(path: string, where: string): AsyncGenerator<JsonlRecord> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  let row = 0;
  for await (const text of rl) {
    line++;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      rl.close();
      throw new SourceError(
        `${path}:${line}: not valid JSON (${(e as Error).message}) in ${where}. ` +
          'Each line must hold one JSON object: repair or delete that line, then rerun.',
      );
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      rl.close();
      throw new SourceError(`${path}:${line}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value} in ${where}. Repair or delete that line, then rerun.`);
    }
    yield { row: row++, line, value };
  }
}
