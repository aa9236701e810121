import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'smol-toml';
import { cli, ensureFreshBuild, type ServeProcess, spawnServe } from '../lib/letterbox-server.js';
import { freePort, waitForGreeting } from '../lib/proc.js';

export interface LetterboxSide extends ServeProcess {
  port: number;
  configFile: string;
}

/** Messages in all mailboxes of `address`, read through the CLI (`user list --json`). */
export function storedMessages(root: string, configFile: string, address: string): number {
  const accounts = JSON.parse(cli(root, ['--config', configFile, 'user', 'list', '--json'])) as {
    address: string;
    mailboxes: { messages: number }[];
  }[];
  const a = accounts.find((x) => x.address === address);
  return a ? a.mailboxes.reduce((n, m) => n + m.messages, 0) : 0;
}

/** Rewrites the config `init` wrote: free loopback ports, no greet delay, fast-failing DNS. */
async function tuneConfig(file: string): Promise<number> {
  const cfg = parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
  const listeners = cfg['listeners'] as Record<string, Record<string, unknown>>;
  for (const l of Object.values(listeners)) {
    l['address'] = '127.0.0.1';
    l['port'] = await freePort();
  }
  cfg['smtp'] = { ...cfg['smtp'], greet_delay_ms: 0 };
  // Nothing listens on port 1: every SPF/DKIM/DMARC lookup fails at once, as on a machine
  // without network, and the checks end as temperror/none within auth_checks_timeout_seconds.
  cfg['dns'] = { ...cfg['dns'], servers: ['127.0.0.1:1'] };
  cfg['log'] = { ...cfg['log'], level: process.env.BENCH_LOG_LEVEL ?? 'warn' };
  // 50 bench sessions come from one address; the default per-IP limit is exactly 50.
  cfg['limits'] = { ...cfg['limits'], max_connections_per_ip: 1000 };
  writeFileSync(file, stringify(cfg));
  return listeners['smtp']!['port'] as number;
}

export async function startLetterbox(opts: {
  root: string;
  dir: string;
  recipient: string;
  /** Extra node flags for the server process, e.g. --cpu-prof. */
  nodeArgs: string[];
}): Promise<LetterboxSide> {
  ensureFreshBuild(opts.root);
  const dataDir = join(opts.dir, 'data');
  const file = join(dataDir, 'letterbox.toml');
  cli(opts.root, ['init', '--dir', dataDir, '--hostname', 'letterbox-bench.localdomain']);
  const port = await tuneConfig(file);
  const domain = opts.recipient.slice(opts.recipient.indexOf('@') + 1);
  cli(opts.root, ['--config', file, 'domain', 'add', domain]);
  cli(
    opts.root,
    ['--config', file, 'user', 'add', opts.recipient, '--password-stdin'],
    'bench-password\n',
  );

  const proc = await spawnServe({
    root: opts.root,
    dir: opts.dir,
    configFile: file,
    nodeArgs: opts.nodeArgs,
    ready: () => waitForGreeting(port, 30_000),
  });
  return { ...proc, port, configFile: file };
}
