// `letterbox store migrate`: a whole store copied from one backend to the other so that
// clients need no resync: the same ids, UIDVALIDITY, UIDs, modseqs, flags, object ids
// (RFC 9051 §2.3.1.1, RFC 7162, RFC 8474), the expunged UIDs VANISHED reports, the bytes, the
// directory with its password hashes, the outbound queue. Table by table (tables.ts) in key
// order, in batches; each batch commits with the position after it (endpoint.ts), so a rerun
// after an interruption goes on from there. A target is either empty or the partial target
// of the same source, unchanged since it began; at the end both sides are compared
// (verify.ts) and only then is the migration's marker removed.
import { sha256 } from '../blobs/file-blobs.js';
import { type Endpoint, MigrateError, type Progress } from './endpoint.js';
import { BYTES_PER_PAGE, keyOf, type Row, TABLES, type TableSpec } from './tables.js';
import { type VerifyResult, verifyCopy } from './verify.js';

export interface MigrateListener {
  /** Before copying: each table's rows in the source and how many are in the target already. */
  begin(
    tables: ReadonlyArray<{ name: string; total: number; done: number }>,
    resumed: boolean,
  ): void;
  /** After each batch committed. */
  copied(table: string, done: number, total: number): void;
  /** The comparison of both sides, table by table. */
  verifying(table: string): void;
}

export interface MigrateSummary {
  resumed: boolean;
  tables: Array<{ name: string; rows: number }>;
  verify: VerifyResult;
}

const quiet: MigrateListener = { begin() {}, copied() {}, verifying() {} };

/** The modseq total: any change to a mailbox or message moves it (RFC 7162 §3). */
const MODSEQ_TOTAL = 'SELECT COALESCE(SUM(modseq), 0) FROM accounts';

/** Rows of a page that fit the byte budget (one at least), for tables with bytes. */
function withinBudget(rows: Row[]): Row[] {
  let sum = 0;
  for (let n = 0; n < rows.length; n++) {
    sum += rows[n]!.size as number;
    if (n > 0 && sum > BYTES_PER_PAGE) return rows.slice(0, n);
  }
  return rows;
}

async function readBatch(
  source: Endpoint,
  spec: TableSpec,
  after: Progress['after'],
  limit: number,
): Promise<{ rows: Row[]; bytes: Buffer[] | null }> {
  const page = await source.readPage(spec, after, limit);
  if (!spec.bytes || page.length === 0) return { rows: page, bytes: null };
  const rows = withinBudget(page);
  const bytes = await source.readBytes(spec, rows);
  for (const [i, r] of rows.entries()) {
    // Content-addressed: the bytes must be the ones the row names, or the copy would lie.
    const b = bytes[i]!;
    if (b.length !== r.size || sha256(b) !== r.blob_hash) {
      throw new MigrateError(
        `${spec.name} ${String(r.id)}: its bytes do not match their SHA-256 name ${String(r.blob_hash)}`,
      );
    }
  }
  return { rows, bytes };
}

export async function migrateStore(
  source: Endpoint,
  target: Endpoint,
  listener: MigrateListener = quiet,
  opts: { /** Rows per batch at most (tests: many small batches). */ page?: number } = {},
): Promise<MigrateSummary> {
  const totals: number[] = [];
  for (const spec of TABLES) totals.push(await source.count(spec));
  const fingerprint = JSON.stringify({ rows: totals, modseq: await source.scalar(MODSEQ_TOTAL) });

  let p = await target.progress();
  const resumed = p !== null;
  if (p) {
    if (p.source !== source.identity) {
      throw new MigrateError(
        `${target.identity} holds an unfinished migration from ${p.source}, not from ${source.identity}`,
      );
    }
    if (p.fingerprint !== fingerprint) {
      throw new MigrateError(
        `${source.identity} changed since this migration began (did a server run on it?): ` +
          `start again with an empty target`,
      );
    }
  } else {
    if (!(await target.isEmpty())) {
      throw new MigrateError(
        `${target.identity} already holds mail data: the target of a migration must be empty`,
      );
    }
    p = { source: source.identity, fingerprint, table: 0, after: null };
    await target.setProgress(p);
  }

  const done: number[] = [];
  for (const [i, spec] of TABLES.entries()) {
    if (i < p.table) done.push(totals[i]!);
    else if (i > p.table) done.push(0);
    // Rows of the table being copied that are in the target already (no `where`: the
    // messages' condition looks at rows copied later).
    else done.push(await target.count({ ...spec, where: undefined }));
  }
  listener.begin(
    TABLES.map((t, i) => ({ name: t.name, total: totals[i]!, done: done[i]! })),
    resumed,
  );

  for (let i = p.table; i < TABLES.length; i++) {
    const spec = TABLES[i]!;
    let after = i === p.table ? p.after : null;
    for (;;) {
      const limit = Math.min(spec.page, opts.page ?? spec.page);
      const { rows, bytes } = await readBatch(source, spec, after, limit);
      if (rows.length === 0) break;
      after = keyOf(spec, rows[rows.length - 1]!);
      const next: Progress = { ...p, table: i, after };
      await target.writePage(spec, rows, bytes, next);
      p = next;
      done[i]! += rows.length;
      listener.copied(spec.name, done[i]!, Math.max(totals[i]!, done[i]!));
    }
    p = { ...p, table: i + 1, after: null };
    await target.setProgress(p);
    listener.copied(spec.name, done[i]!, Math.max(totals[i]!, done[i]!));
  }

  await target.finish(await source.lastUidValidity());
  const verify = await verifyCopy(source, target, (t) => listener.verifying(t));
  // A failed check leaves the marker: the target stays recognisable as this migration's.
  if (verify.ok) await target.clearProgress();
  return {
    resumed,
    tables: TABLES.map((t, i) => ({ name: t.name, rows: done[i]! })),
    verify,
  };
}
