// `letterbox init`: a data directory with a commented config, a self-signed certificate for
// the hostname (so a first run works over TLS) and an empty store.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { configTemplate } from '../../config/template.js';
import { writeSelfSigned } from '../../net/selfsigned.js';
import { mkdirPrivate, writePrivateFile } from '../../private-files.js';
import { normalizeDomain } from '../../store/names.js';
import { openStore } from '../../store/open.js';
import { CliError, EXIT_FAILED } from '../errors.js';
import { defaultHostname } from '../hostname.js';
import { type Out, stdout } from '../io.js';

export interface InitOptions {
  dir: string;
  /** Absent: LETTERBOX_HOSTNAME, else the machine's name (cli/hostname.ts). */
  hostname?: string;
  standardPorts: boolean;
}

export async function runInit(opts: InitOptions, out: Out = stdout): Promise<string> {
  const dir = resolve(opts.dir);
  const file = join(dir, 'letterbox.toml');
  const chosen = opts.hostname === undefined ? await defaultHostname() : null;
  const raw = opts.hostname ?? chosen!.name;
  let hostname: string;
  try {
    hostname = normalizeDomain(raw);
  } catch {
    throw new CliError(
      chosen ? `invalid ${chosen.source}: ${raw} (use --hostname)` : `invalid --hostname: ${raw}`,
    );
  }
  if (existsSync(file))
    throw new CliError(`${file} already exists; not overwriting it`, EXIT_FAILED);
  // 0700 and 0600 whatever the umask: the directory holds the store and the TLS key, and
  // the config may hold secrets.
  await mkdirPrivate(dir);
  await writePrivateFile(file, configTemplate({ hostname, standardPorts: opts.standardPorts }));
  if (!existsSync(join(dir, 'tls', 'cert.pem'))) await writeSelfSigned(dir, hostname);
  const cfg = loadConfig(file);
  const store = await openStore(cfg);
  await store.close();
  out.line(`Initialised ${dir}`);
  out.line(
    `  hostname:    ${hostname}${chosen ? ` (from ${chosen.source}; set \`hostname\` in the config to change it)` : ''}`,
  );
  out.line(`  config:      ${file}`);
  out.line(`  certificate: ${join(dir, 'tls', 'cert.pem')} (self-signed for ${hostname})`);
  out.line(`  store:       ${join(dir, 'letterbox.db')}`);
  return file;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create a data directory: config, self-signed certificate, empty store')
    .option('--dir <dir>', 'data directory to create', './data')
    .option(
      '--hostname <name>',
      "the server host name (default: $LETTERBOX_HOSTNAME, else the machine's FQDN)",
    )
    .option(
      '--standard-ports',
      'write the standard ports (25/587/465/143/993/110/995) on every IPv6 and IPv4 address',
      false,
    )
    .action(async (o: { dir: string; hostname?: string; standardPorts: boolean }) => {
      await runInit(o);
    });
}
