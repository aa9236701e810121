// The real `letterbox serve` as a separate process, for attacks: its RSS can be measured, and
// if an attack kills it the test sees that instead of dying with it.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ListenerName } from '../../src/config/schema.js';
import { LISTENER_NAMES } from '../../src/config/schema.js';
import { writeSelfSigned } from '../../src/net/selfsigned.js';
import { BIN, runCli } from '../helpers/cli.js';

export interface ServerProcess {
  readonly pid: number;
  dir: string;
  config: string;
  /** Port of a listener by name (all listeners are on 127.0.0.1). */
  port(name: ListenerName): number;
  /** Adds the address's domain (if needed) and an account with this password. */
  addUser(address: string, password: string): Promise<void>;
  /** Resident set size of the server process, from /proc. */
  rssBytes(): Promise<number>;
  /** Milliseconds until GET /healthz answered 200 (Infinity if it failed or took > 10 s). */
  healthMs(): Promise<number>;
  /**
   * CPU milliseconds the server's main thread (its event loop) has used so far, from /proc.
   * What it spends while a probe waits is how long its loop kept the probe waiting, whatever
   * the machine's load: on a busy machine a probe's wall time grows with the other work's
   * share of the CPUs, this does not.
   */
  loopCpuMs(): Promise<number>;
  alive(): boolean;
  /** Log lines (JSON text) the server wrote so far. */
  logs(): string[];
  /** Ends the process with `signal` (SIGKILL: a crash) and starts it again on the same data. */
  restart(signal: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export interface ServerProcessOptions {
  /** Keys per config section, e.g. { limits: { max_connections_per_ip: 5 } }. */
  sections?: Record<string, Record<string, string | number | boolean | string[] | number[]>>;
  /** Listeners to enable (default: all). */
  listeners?: ListenerName[];
}

export async function startServerProcess(opts: ServerProcessOptions = {}): Promise<ServerProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'lb-hostile-'));
  await writeSelfSigned(dir, 'localhost');
  const enabled = opts.listeners ?? LISTENER_NAMES;
  const sections: Record<string, Record<string, unknown>> = {
    log: { level: 'info' },
    ...opts.sections,
    // Attacks run on loopback without TLS unless a test says otherwise.
    auth: { allow_plaintext: true, ...opts.sections?.auth },
  };
  const toml = [
    'hostname = "localhost"',
    'data_dir = "."',
    '[tls]\ncert = "tls/cert.pem"\nkey = "tls/key.pem"',
    ...Object.entries(sections).map(
      ([name, kv]) =>
        `[${name}]\n${Object.entries(kv)
          .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
          .join('\n')}`,
    ),
    ...LISTENER_NAMES.map(
      (n) => `[listeners.${n}]\nenabled = ${enabled.includes(n)}\naddress = "127.0.0.1"\nport = 0`,
    ),
  ].join('\n\n');
  const config = join(dir, 'letterbox.toml');
  await writeFile(config, `${toml}\n`);
  await cli(config, ['user', 'list']); // creates the store before the server opens it

  let proc = await launch(config);

  const server: ServerProcess = {
    get pid() {
      return proc.pid;
    },
    dir,
    config,
    port(name) {
      const p = proc.ports.get(name);
      if (p === undefined) throw new Error(`listener ${name} is not running`);
      return p;
    },
    async addUser(address, password) {
      const domain = address.split('@')[1]!;
      const domains = await cli(config, ['domain', 'list']);
      if (!domains.split('\n').includes(domain)) await cli(config, ['domain', 'add', domain]);
      await cli(config, ['user', 'add', address, '--password-stdin'], `${password}\n`);
    },
    async rssBytes() {
      const status = await readFile(`/proc/${proc.pid}/status`, 'utf8');
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      if (!m) throw new Error('no VmRSS');
      return Number(m[1]) * 1024;
    },
    async healthMs() {
      const t0 = performance.now();
      try {
        const res = await fetch(`http://127.0.0.1:${server.port('http')}/healthz`, {
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        return res.status === 200 ? performance.now() - t0 : Number.POSITIVE_INFINITY;
      } catch {
        return Number.POSITIVE_INFINITY;
      }
    },
    async loopCpuMs() {
      return threadCpuMs(proc.pid, proc.pid);
    },
    alive: () => !proc.exited(),
    logs: () => proc.lines,
    async restart(signal) {
      if (!proc.exited()) {
        proc.child.kill(signal);
        await proc.exit;
      }
      proc = await launch(config);
    },
    async stop() {
      if (!proc.exited()) {
        proc.child.kill('SIGTERM');
        const killer = setTimeout(() => proc.child.kill('SIGKILL'), 15_000);
        await proc.exit;
        clearTimeout(killer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}

export interface Launched {
  child: ReturnType<typeof spawn>;
  pid: number;
  exit: Promise<void>;
  exited(): boolean;
  ports: Map<string, number>;
  lines: string[];
}

/** `letterbox serve` on `config`, once it says where it listens. */
export async function launch(config: string): Promise<Launched> {
  const child = spawn(process.execPath, [BIN, '--config', config, 'serve'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  let exited = false;
  const exit = new Promise<void>((r) =>
    child.on('exit', () => {
      exited = true;
      r();
    }),
  );
  const ports = new Map<string, number>();
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      partial += d.toString();
      let nl = partial.indexOf('\n');
      while (nl >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        nl = partial.indexOf('\n');
        if (lines.length < 10_000) lines.push(line);
        if (!line.includes('letterbox started')) continue;
        const rec = JSON.parse(line) as { listeners: { name: string; port: number }[] };
        for (const l of rec.listeners) ports.set(l.name, l.port);
        resolve();
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    void exit.then(() => reject(new Error(`serve exited early:\n${stderr}\n${lines.join('\n')}`)));
  });

  return { child, pid: child.pid!, exit, exited: () => exited, ports, lines };
}

/** CPU ms a thread has used: utime + stime (fields 14 and 15 of its stat, in clock ticks). */
export async function threadCpuMs(pid: number, tid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count the fields after its closing paren.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** USER_HZ: 100 on Linux for every architecture Node runs on (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS = 100;

/**
 * What a callback cost the server's event loop while it ran: the wall time, and the CPU its
 * main thread used meanwhile (the part of the wait that is the server's doing, not the
 * machine's load).
 */
export async function onTheLoop(
  srv: ServerProcess,
  fn: () => Promise<unknown>,
): Promise<{ ms: number; loopCpuMs: number }> {
  const cpu0 = await srv.loopCpuMs();
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  return { ms, loopCpuMs: (await srv.loopCpuMs()) - cpu0 };
}

export interface Watch {
  /**
   * Stops watching; the worst figures seen. maxHealthLoopCpuMs: the most CPU the server's
   * event loop used while one /healthz probe waited (a loop held by one task for 2 s shows
   * as ~2000 here, however loaded the machine); maxHealthMs is that probe's wall time.
   */
  stop(): Promise<{
    maxHealthMs: number;
    maxHealthLoopCpuMs: number;
    peakRss: number;
    samples: number;
  }>;
}

/**
 * Samples the server's RSS and /healthz latency until stopped (one probe at a time, so a
 * frozen event loop shows as one long probe, not a pile of them).
 */
export function watch(srv: ServerProcess): Watch {
  let stopped = false;
  let maxHealthMs = 0;
  let maxHealthLoopCpuMs = 0;
  let peakRss = 0;
  let samples = 0;
  const loop = (async () => {
    while (!stopped && srv.alive()) {
      let ms = 0;
      const [probe, rss] = await Promise.all([
        onTheLoop(srv, async () => {
          ms = await srv.healthMs();
        }).catch(() => ({ ms: Number.POSITIVE_INFINITY, loopCpuMs: 0 })),
        srv.rssBytes().catch(() => 0),
      ]);
      // A probe that failed counts as the worst: Infinity, whatever the CPU.
      maxHealthMs = Math.max(maxHealthMs, ms);
      maxHealthLoopCpuMs = Math.max(
        maxHealthLoopCpuMs,
        Number.isFinite(ms) ? probe.loopCpuMs : Number.POSITIVE_INFINITY,
      );
      peakRss = Math.max(peakRss, rss);
      samples++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { maxHealthMs, maxHealthLoopCpuMs, peakRss, samples };
    },
  };
}

async function cli(config: string, args: string[], input?: string): Promise<string> {
  const r = await runCli(['--config', config, ...args], { input });
  if (r.code !== 0) throw new Error(`letterbox ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
