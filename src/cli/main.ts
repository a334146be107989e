#!/usr/bin/env node
/**
 * The `shadownet` command. Exit codes: see exit-codes.ts (0 ok, 1 failure,
 * 2 usage or config error, 3 API unreachable, 4 nothing found).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ConfigError, ShadownetError } from '../core/index.js';
import { CliExit, ExitCode } from './exit-codes.js';
import { registerConfigCommands } from './commands/config.js';
import { registerQueryCommands } from './commands/query.js';
import { registerRunCommands } from './commands/run.js';
import { registerMrtCommands } from './commands/mrt.js';
import { registerMirrorTargetCommand } from './commands/mirror-target.js';
import { registerShadowCommand } from './commands/shadow.js';
import { registerEmulateCommand } from './commands/emulate.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('shadownet')
    .description('Control plane for cloud-style virtual networks: virtual routers that speak real BGP, and what their routing knowledge makes possible')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerRunCommands(program);
  registerQueryCommands(program);
  registerConfigCommands(program);
  registerMrtCommands(program);
  registerShadowCommand(program);
  registerEmulateCommand(program);
  registerMirrorTargetCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.OK;
      return ExitCode.USAGE;
    }
    if (err instanceof CliExit) {
      process.stderr.write(`shadownet: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`shadownet: ${err.message}\n`);
      return ExitCode.USAGE;
    }
    if (err instanceof ShadownetError) {
      process.stderr.write(`shadownet: ${err.message} [${err.code}]\n`);
      return err.code === 'SHADOWNET_ERR_CONFIG_NOT_FOUND' || err.code === 'SHADOWNET_ERR_INVALID_ARGUMENT' ? ExitCode.USAGE : ExitCode.FAILURE;
    }
    process.stderr.write(`shadownet: ${(err as Error).stack ?? String(err)}\n`);
    return ExitCode.FAILURE;
  }
}

const invokedDirectly = process.argv[1] && new URL(import.meta.url).pathname === (await import('node:fs')).realpathSync(process.argv[1]);
if (invokedDirectly) {
  const code = await main(process.argv);
  process.exitCode = code;
  // Streams flushed; an idle event loop ends the process. Commands that serve keep it alive themselves.
}
