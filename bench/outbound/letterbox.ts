// The Letterbox side of the outbound bench: a fresh `letterbox init` whose queue delivers to
// the sink. Routing is the real one: the destination domain's MX is looked up on the bench's
// DNS server (MX -> host -> 127.0.0.1) and `[queue] port` is the sink's; with `--route
// smarthost` a `[[queue.routes]]` entry names 127.0.0.1 instead (what Postfix's relayhost
// does, no DNS). The queue is filled through the submission listener (AUTH PLAIN on loopback)
// with `[queue] deliver = false`, then the server is started again with deliver = true.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'smol-toml';
import { cli, ensureFreshBuild, type ServeProcess, spawnServe } from '../lib/letterbox-server.js';
import { freePort, waitForGreeting } from '../lib/proc.js';

export type RouteKind = 'mx' | 'smarthost';

export interface LetterboxBench {
  dir: string;
  configFile: string;
  submissionPort: number;
  /** Sets `[queue] deliver` (takes effect at the next start). */
  setDeliver(on: boolean): void;
  /** `letterbox serve`, ready once the submission listener greets. */
  serve(nodeArgs?: string[]): Promise<ServeProcess>;
  /** Items left in the queue (read through the CLI; the server may be stopped). */
  queued(): number;
}

type Toml = Record<string, Record<string, unknown>>;

export async function setupLetterbox(opts: {
  root: string;
  dir: string;
  /** The submitting account (its domain is made local). */
  sender: string;
  password: string;
  sinkPort: number;
  /** `127.0.0.1:PORT` of the bench's DNS server. */
  dns: string;
  /** Sessions to the one destination (per_destination). */
  connections: number;
  route: RouteKind;
}): Promise<LetterboxBench> {
  ensureFreshBuild(opts.root);
  const dataDir = join(opts.dir, 'data');
  const file = join(dataDir, 'letterbox.toml');
  cli(opts.root, ['init', '--dir', dataDir, '--hostname', 'letterbox-bench.localdomain']);
  const cfg = parse(readFileSync(file, 'utf8')) as Toml;
  const listeners = cfg['listeners'] as Record<string, Record<string, unknown>>;
  // Only SMTP listeners: no POP3 worker processes or IMAP in the figures.
  for (const [name, l] of Object.entries(listeners)) {
    l['address'] = '127.0.0.1';
    l['port'] = await freePort();
    l['enabled'] = name === 'smtp' || name === 'submission';
  }
  cfg['smtp'] = { ...cfg['smtp'], greet_delay_ms: 0 };
  cfg['pop3'] = { ...cfg['pop3'], workers: 0 };
  cfg['dns'] = { ...cfg['dns'], servers: [opts.dns] };
  cfg['log'] = { ...cfg['log'], level: process.env['BENCH_LOG_LEVEL'] ?? 'warn' };
  // AUTH PLAIN without TLS, on 127.0.0.1 only: the bench measures delivery, not TLS.
  cfg['auth'] = { ...cfg['auth'], allow_plaintext: true };
  cfg['limits'] = { ...cfg['limits'], max_connections_per_ip: 1000 };
  const queue: Record<string, unknown> = {
    ...cfg['queue'],
    port: opts.sinkPort,
    deliver: false,
    // The connections to the one destination are per_destination's; concurrency (all attempts)
    // is above it, as Postfix's process limit is above its destination concurrency limit:
    // attempts waiting for a session hold a concurrency slot, not the destination's.
    concurrency: opts.connections + 50,
    per_destination: opts.connections,
  };
  if (opts.route === 'smarthost') {
    queue['routes'] = [
      { domain: '*', host: '127.0.0.1', port: opts.sinkPort, tls: 'opportunistic' },
    ];
  }
  cfg['queue'] = queue;
  writeFileSync(file, stringify(cfg));
  const domain = opts.sender.slice(opts.sender.indexOf('@') + 1);
  cli(opts.root, ['--config', file, 'domain', 'add', domain]);
  cli(
    opts.root,
    ['--config', file, 'user', 'add', opts.sender, '--password-stdin'],
    `${opts.password}\n`,
  );
  const submissionPort = listeners['submission']!['port'] as number;

  return {
    dir: opts.dir,
    configFile: file,
    submissionPort,
    setDeliver(on) {
      const c = parse(readFileSync(file, 'utf8')) as Toml;
      c['queue'] = { ...c['queue'], deliver: on };
      writeFileSync(file, stringify(c));
    },
    serve: (nodeArgs = []) =>
      spawnServe({
        root: opts.root,
        dir: opts.dir,
        configFile: file,
        nodeArgs,
        ready: () => waitForGreeting(submissionPort, 60_000),
      }),
    queued: () =>
      (JSON.parse(cli(opts.root, ['--config', file, 'queue', 'list', '--json'])) as unknown[])
        .length,
  };
}
