import { fileURLToPath } from 'node:url';

/** The CLI entry point of this installation (dist/src/cli/main.js). */
export const CLI_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** What a task runs: `run <pipeline> --shard i/n` or `run <pipeline> --reduce n`, with the caller's log flags. */
export interface TaskCommand {
  /** As the user gave it: tasks run in the same directory, and the manifest records the path as given. */
  pipelineFile: string;
  /** --json, --quiet, --offline as the submitting run was given them. */
  flags: string[];
}

export function taskArgs(cmd: TaskCommand, what: { shard: string } | { reduce: number }): string[] {
  return ['run', cmd.pipelineFile, ...('shard' in what ? ['--shard', what.shard] : ['--reduce', String(what.reduce)]), ...cmd.flags];
}

/** A word for sh: single-quoted unless it is plainly safe. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
