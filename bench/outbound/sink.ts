// The loopback SMTP sink both servers deliver to: Postfix's smtp-sink(1), which answers every
// message with 250 and throws it away. With -c it writes its counters ("sess=S quit=Q mesg=M",
// ended by CR) each time a message's final "." comes in or a session ends; the bench reads
// them as they come and stamps each with performance.now(), so the time of the first and of
// the last 250 are known to within a pipe read.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { waitForGreeting } from '../lib/proc.js';

const PATH = `/usr/sbin:/usr/lib/postfix/sbin:${process.env['PATH'] ?? ''}`;

export interface SinkTimes {
  /** performance.now() when the sink counted its first message. */
  firstAt: number;
  /** performance.now() when it counted the `count`th. */
  lastAt: number;
}

export interface Sink {
  port: number;
  /** Messages received (each answered 250). */
  messages(): number;
  /** Sessions that have ended. */
  sessions(): number;
  /** Resolves when `count` messages came in; undefined if `timeoutMs` passed first. */
  waitFor(count: number, timeoutMs: number): Promise<SinkTimes | undefined>;
  /** Resolves once the sessions count has not moved for `stableMs` (the clients hung up). */
  settle(stableMs: number, timeoutMs: number): Promise<void>;
  stop(): void;
}

/** The smtp-sink binary, installing Debian's postfix package through `install` if missing. */
export function findSmtpSink(install: () => void): string {
  const candidates = ['/usr/sbin/smtp-sink', '/usr/bin/smtp-sink'];
  let found = candidates.find((p) => existsSync(p));
  if (!found) {
    install();
    found = candidates.find((p) => existsSync(p));
  }
  if (!found) {
    const w = spawnSync('which', ['smtp-sink'], {
      encoding: 'utf8',
      env: { ...process.env, PATH },
    });
    found = w.stdout.trim() || undefined;
  }
  if (!found) throw new Error('smtp-sink not found (Debian: apt-get install postfix)');
  return found;
}

export async function startSink(binary: string, port: number): Promise<Sink> {
  // -c counters on stdout; -m: sessions served at once (the bench uses at most 50 per server).
  // As root smtp-sink insists on dropping privileges (-u) once it has its socket.
  const args = ['-c', '-m', '512'];
  if (process.getuid?.() === 0) args.push('-u', 'nobody');
  args.push(`127.0.0.1:${port}`, '1024');
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let mesg = 0;
  let sess = 0;
  let firstAt = 0;
  /** When the count last moved. */
  let lastChange = 0;
  let stderr = '';
  let exited = false;
  let watchers: Array<() => void> = [];
  const changed = () => {
    const w = watchers;
    watchers = [];
    for (const f of w) f();
  };
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const now = performance.now();
    pending += chunk.toString('latin1');
    const parts = pending.split(/[\r\n]/);
    pending = parts.pop() ?? '';
    for (const p of parts) {
      // "sess=0 quit=0 mesg=3": fixed keywords, digits only (no backtracking on this input).
      const m = /^sess=(\d+) quit=(\d+) mesg=(\d+)$/.exec(p.trim());
      if (!m) continue;
      sess = Number(m[1]);
      const n = Number(m[3]);
      if (n > 0 && mesg === 0) firstAt = now;
      if (n !== mesg) lastChange = now;
      mesg = n;
    }
    changed();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-2000);
  });
  child.once('exit', () => {
    exited = true;
    changed();
  });
  // It is ready when it greets.
  try {
    await waitForGreeting(port, 10_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`smtp-sink did not start: ${stderr.trim() || (err as Error).message}`);
  }
  // The probe connection ended a session: count from here.
  const base = await new Promise<number>((resolve) => setTimeout(() => resolve(sess), 100));

  const sink: Sink = {
    port,
    messages: () => mesg,
    sessions: () => sess - base,
    waitFor(count, timeoutMs) {
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(undefined), timeoutMs);
        const check = () => {
          if (mesg >= count) {
            clearTimeout(timer);
            resolve({ firstAt, lastAt: lastChange });
          } else if (exited) {
            clearTimeout(timer);
            resolve(undefined);
          } else watchers.push(check);
        };
        check();
      });
    },
    async settle(stableMs, timeoutMs) {
      const until = performance.now() + timeoutMs;
      let seen = sess;
      let since = performance.now();
      while (performance.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        if (sess !== seen) {
          seen = sess;
          since = performance.now();
        } else if (performance.now() - since >= stableMs) return;
      }
    },
    stop() {
      if (!exited) child.kill('SIGTERM');
    },
  };
  return sink;
}
