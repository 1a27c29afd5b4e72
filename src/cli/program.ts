import { Command, CommanderError } from 'commander';
import { UserlmError } from '../core/errors.js';
import { tooManyOpenFiles } from '../core/fs-failure.js';
import { redactSecrets, registerEnvironmentSecrets } from '../core/redact-secrets.js';
import { VERSION } from '../core/version.js';
import { inspectCommand } from './inspect.js';
import { planCommand } from './plan.js';
import { publishCommand } from './publish.js';
import { pullCommand } from './pull.js';
import { reportCommand } from './report.js';
import { runCommand } from './run.js';
import { trainCommand } from './train.js';
import { validateCommand } from './validate.js';

export function buildProgram(): Command {
  const program = new Command('userlm-data')
    .description('Build training data for User Language Models from chat logs: filter, dedup, intents, flip, tokenize, split, shard; hand it to a trainer.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)');
  program.addCommand(runCommand());
  program.addCommand(validateCommand());
  program.addCommand(planCommand());
  program.addCommand(inspectCommand());
  program.addCommand(pullCommand());
  program.addCommand(publishCommand());
  program.addCommand(trainCommand());
  program.addCommand(reportCommand());
  return program;
}

export async function main(argv: string[]): Promise<number> {
  registerEnvironmentSecrets(process.env);
  const program = buildProgram();
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof UserlmError) {
      process.stderr.write(redactSecrets(`error: ${e.message}\n`));
      return e.exitCode;
    }
    const limit = tooManyOpenFiles(e);
    if (limit) {
      process.stderr.write(`error: ${limit.message}\n`);
      return limit.exitCode;
    }
    process.stderr.write(redactSecrets(`error: ${(e as Error)?.message ?? String(e)}\nThis is a bug in userlm-data; please report it with the command you ran.\n`));
    if (process.env['USERLM_DEBUG']) process.stderr.write(redactSecrets(`${(e as Error)?.stack}\n`));
    return 1;
  }
}
