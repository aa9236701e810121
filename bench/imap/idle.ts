// IMAP bench (c): many connections in IDLE (RFC 2177) on one mailbox, then one message is
// delivered and the bench times how long it takes for every connection to get the untagged
// EXISTS. Connections are opened a window at a time until the target or a time budget is
// reached (a server may spend real CPU per login: Letterbox hashes with scrypt).
import { ImapClient } from '../lib/imap-client.js';
import { percentile } from '../lib/stats.js';

export interface Delivery {
  how: string;
  /** From the start of the delivery to the last IDLE connection's EXISTS, in ms. */
  allMs: number;
  /** Median arrival, in ms. */
  p50Ms: number;
  reached: number;
}

export interface IdleHandle {
  connected: number;
  connectMs: number;
  error?: string;
  /** Delivers with `deliver` and waits (up to `timeoutMs`) for every connection's EXISTS. */
  deliver(how: string, deliver: () => Promise<void>, timeoutMs?: number): Promise<Delivery>;
  close(): void;
}

export async function openIdlers(opts: {
  port: number;
  user: string;
  password: string;
  target: number;
  budgetMs: number;
  window?: number;
  onProgress?: (n: number) => void;
}): Promise<IdleHandle> {
  const conns: ImapClient[] = [];
  const arrivals: number[] = [];
  const baseline: number[] = [];
  let roundStart = 0;
  let expected = 0;
  let error: string | undefined;
  const start = performance.now();
  let next = 0;
  let reported = 0;

  const openOne = async () => {
    const c = await ImapClient.login('127.0.0.1', opts.port, opts.user, opts.password);
    const i = conns.length;
    conns.push(c);
    baseline.push(0);
    arrivals.push(Number.NaN);
    c.onUntagged = (line) => {
      const m = /^\* (\d+) EXISTS/i.exec(line);
      if (!m) return;
      const n = Number(m[1]);
      if (expected > 0 && n >= expected && Number.isNaN(arrivals[i]!)) {
        arrivals[i] = performance.now() - roundStart;
      }
      baseline[i] = n;
    };
    const sel = await c.command('SELECT INBOX', { keep: false });
    if (sel.status !== 'OK') throw new Error(`SELECT: ${sel.text}`);
    await c.idle();
  };

  const worker = async () => {
    while (error === undefined && next < opts.target) {
      if (performance.now() - start > opts.budgetMs) return;
      next++;
      try {
        await openOne();
      } catch (e) {
        error ??= e instanceof Error ? e.message : String(e);
      }
      const n = conns.length;
      if (n >= reported + 1000) {
        reported = n - (n % 1000);
        opts.onProgress?.(reported);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.window ?? 64 }, worker));
  const connectMs = performance.now() - start;

  return {
    connected: conns.length,
    connectMs,
    error,
    async deliver(how, deliver, timeoutMs = 60_000) {
      expected = Math.max(...baseline) + 1;
      arrivals.fill(Number.NaN);
      roundStart = performance.now();
      await deliver();
      const until = performance.now() + timeoutMs;
      for (;;) {
        const missing = arrivals.reduce((k, a) => k + (Number.isNaN(a) ? 1 : 0), 0);
        if (missing === 0 || performance.now() > until) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      const got = arrivals.filter((a) => !Number.isNaN(a));
      expected = 0;
      return {
        how,
        allMs: got.length === conns.length ? Math.max(...got) : Number.NaN,
        p50Ms: percentile(got, 50),
        reached: got.length,
      };
    },
    close() {
      for (const c of conns) c.destroy();
    },
  };
}
