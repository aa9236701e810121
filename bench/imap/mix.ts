// IMAP bench (a): N clients, each running a realistic mail-client mix in a loop for a fixed
// time. One operation is one command and its tagged reply; its latency is from the write to the
// tagged OK. Clients share a few accounts (several devices on one mailbox), so every server
// also pushes the other sessions' changes (EXISTS, EXPUNGE, FETCH FLAGS) while it works.

import { expectOk, ImapClient, type Part } from '../lib/imap-client.js';
import { percentile } from '../lib/stats.js';

export const MIX_COMMANDS = [
  'SELECT',
  'FETCH FLAGS',
  'FETCH HEADERS',
  'FETCH BODY',
  'STORE',
  'APPEND',
  'SEARCH',
  'STORE DELETED',
  'EXPUNGE',
] as const;
export type MixCommand = (typeof MIX_COMMANDS)[number];

export interface MixResult {
  clients: number;
  ops: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  perCommandP99: Record<string, number>;
  /** Mean latency per command: their sum is a cycle's time, what sets a client's rate. */
  perCommandMeanMs: Record<string, number>;
  /** Operations by the index of the port they went to (`ports`; one entry without). */
  opsByPort: number[];
  error?: string;
}

/** A tiny deterministic PRNG per client, so both servers see the same sequence. */
function rng(seed: number): () => number {
  let s = seed * 2654435761;
  return () => {
    s = (s ^ (s << 13)) >>> 0;
    s = (s ^ (s >>> 17)) >>> 0;
    s = (s ^ (s << 5)) >>> 0;
    return s / 4294967296;
  };
}

export async function runMix(opts: {
  port: number;
  /** Several nodes of one store (bench/scale): client i connects to ports[i % length]. */
  ports?: number[];
  users: string[];
  password: string;
  clients: number;
  durationMs: number;
  /** A ~5 KB message to APPEND (a fresh Message-ID each time is not needed: UIDs differ). */
  appendMessage: (client: number, n: number) => Buffer;
}): Promise<MixResult> {
  const latencies: number[] = [];
  const per = new Map<string, number[]>(MIX_COMMANDS.map((c) => [c, []]));
  const opsByPort = Array.from({ length: opts.ports?.length ?? 1 }, () => 0);
  let error: string | undefined;
  const conns = await Promise.all(
    Array.from({ length: opts.clients }, (_, i) =>
      ImapClient.login(
        '127.0.0.1',
        opts.ports?.[i % opts.ports.length] ?? opts.port,
        opts.users[i % opts.users.length]!,
        opts.password,
      ),
    ),
  );
  const start = performance.now();
  const until = start + opts.durationMs;

  const one = async (c: ImapClient, id: number, name: MixCommand, parts: Part | Part[]) => {
    const t = performance.now();
    const r = await c.command(parts, { keep: false });
    const ms = performance.now() - t;
    expectOk(r, name);
    latencies.push(ms);
    opsByPort[id % opsByPort.length]!++;
    per.get(name)!.push(ms);
    return r;
  };

  const client = async (c: ImapClient, id: number) => {
    const rnd = rng(id + 1);
    let n = 0;
    // The client's view of the mailbox size: other sessions append and expunge meanwhile, and
    // sequence numbers stay valid only as the server reports those changes (RFC 9051 §7.5.1).
    let exists = 0;
    c.onUntagged = (line) => {
      const m = /^\* (\d+) (EXISTS|EXPUNGE)/i.exec(line);
      if (!m) return;
      if (m[2]!.toUpperCase() === 'EXISTS') exists = Number(m[1]);
      else exists--;
    };
    while (performance.now() < until) {
      await one(c, id, 'SELECT', 'SELECT INBOX');
      if (exists === 0) throw new Error('mailbox is empty');
      await one(c, id, 'FETCH FLAGS', 'FETCH 1:* (FLAGS)');
      await one(
        c,
        id,
        'FETCH HEADERS',
        `FETCH ${Math.max(1, exists - 49)}:* (UID BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])`,
      );
      const pick = 1 + Math.floor(rnd() * exists);
      await one(c, id, 'FETCH BODY', `FETCH ${pick} (BODY.PEEK[])`);
      await one(c, id, 'STORE', `STORE ${Math.min(pick, exists)} +FLAGS (\\Seen)`);
      const app = await one(c, id, 'APPEND', [
        'APPEND INBOX (\\Seen) ',
        opts.appendMessage(id, n++),
      ]);
      await one(c, id, 'SEARCH', 'UID SEARCH FROM "carol" SUBJECT "quarterly"');
      // Keep the mailbox at its size: delete what this client appended (RFC 4315 APPENDUID
      // names it; without UIDPLUS the newest message is deleted).
      const uid = /APPENDUID \d+ (\d+)/i.exec(app.text)?.[1];
      await one(
        c,
        id,
        'STORE DELETED',
        uid ? `UID STORE ${uid} +FLAGS.SILENT (\\Deleted)` : 'STORE * +FLAGS.SILENT (\\Deleted)',
      );
      await one(c, id, 'EXPUNGE', 'EXPUNGE');
    }
  };

  await Promise.all(
    conns.map((c, i) =>
      client(c, i).catch((e: unknown) => {
        error ??= e instanceof Error ? e.message : String(e);
      }),
    ),
  );
  const elapsed = performance.now() - start;
  await Promise.all(conns.map((c) => c.logout()));
  return {
    clients: opts.clients,
    ops: latencies.length,
    opsPerSecond: latencies.length / (elapsed / 1000),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    perCommandP99: Object.fromEntries([...per].map(([k, v]) => [k, percentile(v, 99)])),
    perCommandMeanMs: Object.fromEntries(
      [...per].map(([k, v]) => [k, v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0]),
    ),
    opsByPort,
    error,
  };
}
