#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../lambda/core/config/resolve';
import { packageVersion, takeExitCode } from './cli-support';
import { registerCacheCommands } from './commands/cache';
import { registerContextCommands } from './commands/context';
import { registerDistillCommands } from './commands/distill';
import { registerDoctorCommand } from './commands/doctor';
import { registerGatewayCommands } from './commands/gateway';
import { registerImportCommand } from './commands/import';
import { registerPlanningCommands } from './commands/planning';
import { registerPricesCommands } from './commands/prices';
import { registerQuotaCommands } from './commands/quota';
import { registerReportCommands } from './commands/report';
import { registerRouterCommands } from './commands/router';
import { registerTenantCommands } from './commands/tenants';

export { loadConfigFile } from './commands/gateway';

/**
 * The `llm-finops` command tree, on commander (the most used Node argument library, no dependencies, CommonJS and
 * typings included): --help on every command and sub-command, --version, typed option parsing, suggestions for
 * mistyped commands and flags. Each command group lives in bin/commands/.
 */
export function buildProgram(): Command {
  const program = new Command('llm-finops')
    .description('Cost controls for LLM traffic: a local OpenAI-compatible gateway, quotas, attribution reports and what-if tools.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .showHelpAfterError()
    .showSuggestionAfterError()
    .helpCommand(true);
  registerGatewayCommands(program);
  registerQuotaCommands(program);
  registerTenantCommands(program);
  registerReportCommands(program);
  registerImportCommand(program);
  registerPlanningCommands(program);
  registerDistillCommands(program);
  registerDoctorCommand(program);
  registerCacheCommands(program);
  registerRouterCommands(program);
  registerContextCommands(program);
  registerPricesCommands(program);
  program.addHelpText('after', '\nEvery command answers --help. Exit codes: 0 ok, 1 failed (or prices check found differences), 2 usage error.\n');
  return program;
}

/** Runs one command line (without `node` and the script); resolves to the exit code. Errors are printed, not thrown. */
export async function runCli(argv: readonly string[]): Promise<number> {
  takeExitCode();
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    return takeExitCode();
  } catch (err) {
    takeExitCode();
    if (err instanceof CommanderError) return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    process.stderr.write(err instanceof ConfigError ? `${err.message}\n` : `error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then((code) => process.exit(code));
}
