// The Postfix side of the SMTP bench: a private instance (its own config, queue and data
// directories under a temp dir) written by setup-postfix.sh, started and stopped with
// `postfix -c DIR`. It answers 250 once the queue file is fsynced and delivers to the Maildir
// afterwards, so the bench counts files in Maildir/new to time delivery.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitForGreeting } from '../lib/proc.js';

export interface PostfixSide {
  port: number;
  maildir: string;
  /** The master process, parent of every other Postfix process of this instance. */
  masterPid(): number | undefined;
  /** Messages now in Maildir/new. */
  delivered(): number;
  /** Empties Maildir/new between cells, so each cell counts from zero. */
  clearDelivered(): void;
  /** Polls until `count` messages are in Maildir/new; performance.now() then, or undefined. */
  waitDelivered(count: number, timeoutMs: number): Promise<number | undefined>;
  /** Stops the instance; safe to call more than once, and from an exit handler. */
  stop(): void;
  /** The instance's log, for when something went wrong. */
  logTail(lines: number): string;
}

const PATH = `/usr/sbin:/usr/lib/postfix/sbin:${process.env['PATH'] ?? ''}`;

function postfix(etc: string, action: 'start' | 'stop'): void {
  const r = spawnSync('postfix', ['-c', etc, action], {
    encoding: 'utf8',
    env: { ...process.env, PATH },
  });
  if (r.status !== 0 && action === 'start') {
    throw new Error(`postfix -c ${etc} start failed (${r.status}): ${r.stderr.trim()}`);
  }
}

export async function startPostfix(opts: {
  script: string;
  dir: string;
  recipient: string;
}): Promise<PostfixSide> {
  const port = await freePort();
  const setup = spawnSync('bash', [opts.script, opts.dir, String(port), opts.recipient], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (setup.status !== 0) throw new Error(`setup-postfix.sh failed (exit ${setup.status})`);
  const maildir = setup.stdout.trim().split('\n').pop()!;
  const etc = join(opts.dir, 'etc');
  const newDir = join(maildir, 'new');
  let running = true;
  postfix(etc, 'start');

  const side: PostfixSide = {
    port,
    maildir,
    masterPid() {
      try {
        return Number(readFileSync(join(opts.dir, 'queue', 'pid', 'master.pid'), 'latin1').trim());
      } catch {
        return undefined;
      }
    },
    delivered: () => readdirSync(newDir).length,
    clearDelivered() {
      for (const f of readdirSync(newDir)) rmSync(join(newDir, f), { force: true });
    },
    async waitDelivered(count, timeoutMs) {
      const until = performance.now() + timeoutMs;
      for (;;) {
        if (side.delivered() >= count) return performance.now();
        if (performance.now() > until) return undefined;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop() {
      if (!running) return;
      running = false;
      postfix(etc, 'stop');
    },
    logTail(lines) {
      try {
        return readFileSync(join(opts.dir, 'maillog'), 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return '(no log)';
      }
    },
  };
  try {
    await waitForGreeting(port, 30_000);
  } catch (err) {
    side.stop();
    throw err;
  }
  return side;
}
