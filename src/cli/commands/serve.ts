// `letterbox serve`: run in the foreground, JSON logs on stdout, stop cleanly on SIGTERM/SIGINT,
// reload certificates on SIGHUP.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { configPath, loadConfig } from '../../config/load.js';
import { createLogger, prettyFor } from '../../log.js';
import { hostPort } from '../../net/conn-log.js';
import { installProcessGuard } from '../../net/guard.js';
import type { RunningServer } from '../../server.js';
import type { GlobalOptions } from '../context.js';
import { removePidFile, writePidFile } from '../pid-file.js';
import { setServeHeapGrowing } from '../serve-heap.js';
import { runInit } from './init.js';

/** What the store holds, for the banner: its domains and how many accounts. */
export interface Directory {
  domains: string[];
  accounts: number;
}

export function banner(
  server: Pick<RunningServer, 'listeners' | 'unavailable'>,
  file: string,
  hostname: string,
  dir: Directory,
): string {
  const lines = [`letterbox is running as ${hostname} (config ${file})`];
  for (const l of server.listeners) {
    const tls = l.tls === 'none' ? '' : l.tls === 'implicit' ? ' (TLS)' : ' (STARTTLS)';
    lines.push(`  ${l.name.padEnd(12)} ${hostPort(l.host, l.port)}${tls}`);
  }
  if (server.unavailable.length > 0) {
    lines.push(`  not yet available in this version: ${server.unavailable.join(', ')}`);
  }
  const cfgArg = `--config ${file}`;
  const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
  if (dir.accounts > 0) {
    lines.push(
      `${plural(dir.accounts, 'account')} in ${plural(dir.domains.length, 'domain')} (${dir.domains.slice(0, 3).join(', ')}${dir.domains.length > 3 ? ', ...' : ''}); list them with:`,
      `  npx letterbox ${cfgArg} user list`,
    );
  } else if (dir.domains.length > 0) {
    lines.push(
      `No accounts yet in ${dir.domains.join(', ')}. Add the first:`,
      `  npx letterbox ${cfgArg} user add you@${dir.domains[0]}`,
    );
  } else {
    lines.push(
      'Add your first domain and account:',
      `  npx letterbox ${cfgArg} domain add example.com`,
      `  npx letterbox ${cfgArg} user add you@example.com`,
    );
  }
  lines.push('Stop with Ctrl-C (SIGINT) or SIGTERM.');
  return `${lines.join('\n')}\n`;
}

export async function runServe(
  globals: GlobalOptions,
  o: { initIfMissing?: boolean },
): Promise<void> {
  // Before the server's code is loaded and its worker started: a fixed heap growing factor
  // (serve-heap.ts).
  setServeHeapGrowing();
  const file = configPath(globals.config);
  if (o.initIfMissing && !existsSync(file)) {
    // The hostname: LETTERBOX_HOSTNAME, else the machine's FQDN (cli/hostname.ts).
    await runInit({ dir: dirname(file), standardPorts: false });
  }
  const cfg = loadConfig(file);
  const log = createLogger({ level: cfg.log.level, pretty: prettyFor(cfg.log.format) });
  // The last line of defence (net/guard.ts): an error escaping one connection's code ends that
  // connection; one outside every connection is logged at fatal and exits 70 for the
  // supervisor to restart. Installed here, by the process's entry point, not by startServer:
  // a process that embeds the server (the in-process tests, whose runner attributes uncaught
  // errors to tests) keeps its own policy.
  installProcessGuard({ log });
  // Loaded here, not with the CLI: every other command (an import above all) carried the
  // whole server's code for nothing (with the IMAP client of import-imap.ts, 15 MB of the
  // CLI's 31 MB heap at start and 40 MB of its RSS).
  const { startServer } = await import('../../server.js');
  const server = await startServer(cfg, log);
  writePidFile(cfg.dataDir);
  const store = server.ctx.store;
  const [domains, accounts] = await Promise.all([store.listDomains(), store.listAccounts()]);
  process.stderr.write(
    banner(server, file, cfg.hostname, {
      domains: domains.map((d) => d.name),
      accounts: accounts.length,
    }),
  );

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal }, 'stopping');
      server.stop().then(
        () => {
          removePidFile(cfg.dataDir);
          log.info('stopped');
          resolve();
        },
        (err) => {
          removePidFile(cfg.dataDir);
          log.error({ err }, 'error while stopping');
          resolve();
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      try {
        server.reloadTls();
        log.info('TLS certificates reloaded');
      } catch (err) {
        log.error(
          { err: (err as Error).message },
          'TLS reload failed; keeping the old certificates',
        );
      }
    });
  });
}

export function registerServe(program: Command, globals: () => GlobalOptions): void {
  program
    .command('serve')
    .description('run the mail server in the foreground')
    .option('--init-if-missing', 'create the data directory first if the config does not exist')
    .action((o: { initIfMissing?: boolean }) => runServe(globals(), o));
}
