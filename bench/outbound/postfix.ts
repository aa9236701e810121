// The Postfix side of the outbound bench: a private instance (own config and queue under a
// temp dir, written by setup-postfix.sh) that relays everything to the sink. It is filled with
// delivery deferred (defer_transports = smtp: each message goes to the deferred queue, as a
// backlog after an outage would); release() clears defer_transports and reloads, flush() runs
// `postqueue -f`, which makes the queue manager take the whole deferred queue at once.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitForGreeting } from '../lib/proc.js';

export interface PostfixBench {
  port: number;
  masterPid(): number | undefined;
  /** Queue files in incoming, active, deferred and hold. */
  queueFiles(): { incoming: number; active: number; deferred: number; hold: number };
  /** Waits until every accepted message sits in the deferred queue (none on its way in). */
  waitDeferred(count: number, timeoutMs: number): Promise<boolean>;
  /** defer_transports emptied, `postfix reload`. */
  release(): void;
  /** `postqueue -f`: deliver everything queued now. */
  flush(): void;
  stop(): void;
  logTail(lines: number): string;
}

const PATH = `/usr/sbin:/usr/lib/postfix/sbin:${process.env['PATH'] ?? ''}`;

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, PATH } });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  }
}

function countFiles(dir: string): number {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
      .length;
  } catch {
    return 0;
  }
}

export async function startPostfix(opts: {
  script: string;
  dir: string;
  sinkPort: number;
  connections: number;
}): Promise<PostfixBench> {
  const port = await freePort();
  const setup = spawnSync(
    'bash',
    [opts.script, opts.dir, String(port), String(opts.sinkPort), String(opts.connections)],
    { encoding: 'utf8', stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (setup.status !== 0) throw new Error(`setup-postfix.sh failed (exit ${setup.status})`);
  const etc = join(opts.dir, 'etc');
  const queue = join(opts.dir, 'queue');
  let running = true;
  run('postfix', ['-c', etc, 'start']);

  const side: PostfixBench = {
    port,
    masterPid() {
      try {
        return Number(readFileSync(join(queue, 'pid', 'master.pid'), 'latin1').trim());
      } catch {
        return undefined;
      }
    },
    queueFiles: () => ({
      incoming: countFiles(join(queue, 'incoming')),
      active: countFiles(join(queue, 'active')),
      deferred: countFiles(join(queue, 'deferred')),
      hold: countFiles(join(queue, 'hold')),
    }),
    async waitDeferred(count, timeoutMs) {
      const until = performance.now() + timeoutMs;
      while (performance.now() < until) {
        const q = side.queueFiles();
        if (q.deferred >= count && q.incoming === 0 && q.active === 0) return true;
        await new Promise((r) => setTimeout(r, 250));
      }
      return false;
    },
    release() {
      run('postconf', ['-c', etc, '-e', 'defer_transports =']);
      run('postfix', ['-c', etc, 'reload']);
    },
    flush() {
      run('postqueue', ['-c', etc, '-f']);
    },
    stop() {
      if (!running) return;
      running = false;
      spawnSync('postfix', ['-c', etc, 'stop'], { env: { ...process.env, PATH } });
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
