// The `letterbox` admin command. Errors are one line on stderr, never a stack trace, with the
// exit codes of errors.ts.
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load.js';
import { ListenError } from '../net/listener.js';
import { TlsConfigError } from '../net/tls.js';
import { StoreError } from '../store/errors.js';
import { letterboxVersion } from '../version.js';
import { registerAlias } from './commands/alias.js';
import { registerBackup } from './commands/backup.js';
import { registerDkim } from './commands/dkim.js';
import { registerDns } from './commands/dns.js';
import { registerDomain } from './commands/domain.js';
import { registerExport } from './commands/export.js';
import { registerImport } from './commands/import.js';
import { registerInit } from './commands/init.js';
import { registerQueue } from './commands/queue.js';
import { registerRestore } from './commands/restore.js';
import { registerServe } from './commands/serve.js';
import { registerStore } from './commands/store.js';
import { registerUser } from './commands/user.js';
import type { GlobalOptions } from './context.js';
import { CliError, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './errors.js';

export function buildProgram(): Command {
  const program = new Command('letterbox')
    .description('Letterbox mail server: SMTP, IMAP and POP3 over one mail store')
    .option(
      '-c, --config <file>',
      'config file (default: $LETTERBOX_CONFIG or ./data/letterbox.toml)',
    )
    .version(letterboxVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const globals = () => program.opts<GlobalOptions>();
  registerInit(program);
  registerServe(program, globals);
  registerDomain(program, globals);
  registerUser(program, globals);
  registerAlias(program, globals);
  registerQueue(program, globals);
  registerDkim(program, globals);
  registerDns(program, globals);
  registerImport(program, globals);
  registerBackup(program, globals);
  registerRestore(program, globals);
  registerExport(program, globals);
  registerStore(program, globals);
  // Every level, down to `user app-password add`.
  const override = (c: Command): void => {
    for (const sub of c.commands) {
      sub.exitOverride();
      override(sub);
    }
  };
  override(program);
  return program;
}

/** Maps an error to [exit code, one-line message]. */
export function describeError(err: unknown): [number, string] {
  if (err instanceof CliError) return [err.exitCode, err.message];
  if (err instanceof ConfigError || err instanceof TlsConfigError || err instanceof ListenError) {
    return [EXIT_USAGE, err.message];
  }
  if (err instanceof StoreError) {
    return [err.code === 'INVALID' ? EXIT_USAGE : EXIT_FAILED, err.message];
  }
  return [EXIT_FAILED, err instanceof Error ? err.message : String(err)];
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not failures; commander already printed its one-line error.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')
        return EXIT_OK;
      // `letterbox help` asked for it (0); a bare `letterbox` or `letterbox domain` names no
      // command: help on stderr and bad usage (exit 2, as the README says).
      if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
      return EXIT_USAGE;
    }
    const [code, message] = describeError(err);
    process.stderr.write(`letterbox: ${message}\n`);
    return code;
  }
}
