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
import { type Out, stdout } from '../io.js';

export interface InitOptions {
  dir: string;
  hostname: string;
  standardPorts: boolean;
}

export async function runInit(opts: InitOptions, out: Out = stdout): Promise<string> {
  const dir = resolve(opts.dir);
  const file = join(dir, 'letterbox.toml');
  let hostname: string;
  try {
    hostname = normalizeDomain(opts.hostname);
  } catch {
    throw new CliError(`invalid --hostname: ${opts.hostname}`);
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
    .option('--hostname <name>', 'the server host name', 'localhost')
    .option('--standard-ports', 'write the standard ports (25/587/465/143/993/110/995)', false)
    .action(async (o: { dir: string; hostname: string; standardPorts: boolean }) => {
      await runInit(o);
    });
}
