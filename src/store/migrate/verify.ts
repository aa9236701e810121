// The check at the end of a store migration: every table read again on both sides in the
// same order, its rows counted and hashed in canonical form (SHA-256 over each row's values),
// and the messages of each mailbox (UID, flags, modseq, dates, stored message) counted and
// hashed per mailbox, so that a difference names the mailbox a client would notice it in.
import { createHash, type Hash } from 'node:crypto';
import type { Endpoint } from './endpoint.js';
import { keyOf, type Row, TABLES, type TableSpec, type Value } from './tables.js';

const PAGE = 5000;

export interface Digest {
  count: number;
  hash: string;
}

export interface VerifyResult {
  ok: boolean;
  tables: Array<{ name: string; source: Digest; target: Digest }>;
  /** Mailboxes whose messages were compared one by one (count and hash each). */
  mailboxes: number;
  /** What differs, one sentence each. */
  problems: string[];
}

function canonical(spec: TableSpec, r: Row): string {
  return JSON.stringify(
    spec.columns.map((c) => {
      const v: Value = r[c.name] ?? null;
      return Buffer.isBuffer(v) ? `base64:${v.toString('base64')}` : v;
    }),
  );
}

interface Scan {
  table: Digest;
  /** mailbox_messages: per mailbox id. */
  perMailbox: Map<number, Digest>;
}

async function scan(
  side: Endpoint,
  spec: TableSpec,
  each: (r: Row) => void = () => {},
): Promise<Scan> {
  const all = createHash('sha256');
  const boxes = new Map<number, { count: number; hash: Hash }>();
  let count = 0;
  let after: Value[] | null = null;
  for (;;) {
    const rows = await side.readPage(spec, after, PAGE);
    if (rows.length === 0) break;
    for (const r of rows) {
      each(r);
      const line = `${canonical(spec, r)}\n`;
      all.update(line);
      count++;
      if (spec.name === 'mailbox_messages') {
        const id = r.mailbox_id as number;
        let b = boxes.get(id);
        if (!b) {
          b = { count: 0, hash: createHash('sha256') };
          boxes.set(id, b);
        }
        b.count++;
        b.hash.update(line);
      }
    }
    after = keyOf(spec, rows[rows.length - 1]!);
  }
  const perMailbox = new Map<number, Digest>();
  for (const [id, b] of boxes) perMailbox.set(id, { count: b.count, hash: b.hash.digest('hex') });
  return { table: { count, hash: all.digest('hex') }, perMailbox };
}

export async function verifyCopy(
  source: Endpoint,
  target: Endpoint,
  onTable: (name: string) => void = () => {},
): Promise<VerifyResult> {
  const out: VerifyResult = { ok: true, tables: [], mailboxes: 0, problems: [] };
  // Names for the problems: a mailbox is named by its account's address and its own name.
  const addresses = new Map<number, string>();
  const boxes = new Map<number, string>();
  const remember = (spec: TableSpec) => (r: Row) => {
    if (spec.name === 'accounts') addresses.set(r.id as number, r.address as string);
    if (spec.name === 'mailboxes') {
      const who = addresses.get(r.account_id as number) ?? `account ${String(r.account_id)}`;
      boxes.set(r.id as number, `"${String(r.name)}" of ${who}`);
    }
  };
  for (const spec of TABLES) {
    onTable(spec.name);
    const s = await scan(source, spec, remember(spec));
    const t = await scan(target, spec);
    out.tables.push({ name: spec.name, source: s.table, target: t.table });
    if (s.table.count !== t.table.count) {
      out.problems.push(
        `${spec.name}: ${s.table.count} rows in the source, ${t.table.count} in the target`,
      );
    } else if (s.table.hash !== t.table.hash) {
      out.problems.push(`${spec.name}: the rows differ (same count, different content)`);
    }
    if (spec.name === 'mailbox_messages') {
      const ids = new Set([...s.perMailbox.keys(), ...t.perMailbox.keys()]);
      out.mailboxes = ids.size;
      for (const id of [...ids].sort((a, b) => a - b)) {
        const a = s.perMailbox.get(id);
        const b = t.perMailbox.get(id);
        if (a?.count !== b?.count || a?.hash !== b?.hash) {
          out.problems.push(
            `mailbox ${boxes.get(id) ?? id} (id ${id}): ${a?.count ?? 0} messages in the source, ` +
              `${b?.count ?? 0} in the target` +
              (a?.count === b?.count ? ', with different UIDs, flags or modseqs' : ''),
          );
        }
      }
    }
  }
  const [su, tu] = [await source.lastUidValidity(), await target.lastUidValidity()];
  if (tu < su) {
    out.problems.push(`the target's last UIDVALIDITY ${tu} is below the source's ${su}`);
  }
  out.ok = out.problems.length === 0;
  return out;
}
