// The PostgreSQL side of a store migration: the database's tables read or written directly
// (no PostgresStore: no LISTEN, no events). A batch is one multi-row INSERT per table in one
// transaction with the migration's position. Rows keep their ids (OVERRIDING SYSTEM VALUE;
// the identity sequences are moved past them at the end), the bytes of messages and queued
// items go into the store's blobs (postgres/blobs.ts) in the same transaction, and a
// message's search text (body_text) is made from its bytes here, as delivery makes it in
// "on-delivery" mode (postgres/body-text.ts; every mailbox's mark then starts at 0, and its
// first search finds nothing to make: text-catch-up.ts).
import { CHUNK_BYTES, readBlob } from '../postgres/blobs.js';
import { bodyTextFromBytes } from '../postgres/body-text.js';
import { PgDb, type PgOptions, type Queryable } from '../postgres/db.js';
import type { Endpoint, Progress } from './endpoint.js';
import type { Column, Row, TableSpec, Value } from './tables.js';

const MARKER = 'letterbox_store_migration';
/** Our connections, told apart from a server's in pg_stat_activity. */
export const MIGRATE_APP_NAME = 'letterbox-store-migrate';

function decode(c: Column, v: unknown): Value {
  if (v === null || v === undefined) return null;
  switch (c.kind) {
    case 'int':
      return Number(v);
    case 'bytes':
      return Buffer.isBuffer(v) ? v : Buffer.from(String(v));
    default:
      return v as Value;
  }
}

function encode(c: Column, v: Value): unknown {
  if (v === null) return c.kind === 'flags' ? [] : null;
  return v;
}

function keyExpr(spec: TableSpec): string {
  return spec.key
    .map(
      (k) =>
        (k.nullAs === undefined ? k.column : `COALESCE(${k.column}, ${k.nullAs})`) +
        (k.text ? ' COLLATE "C"' : ''),
    )
    .join(', ');
}

/** `url` without its password, and with the application name migrations connect under. */
export function withAppName(url: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', MIGRATE_APP_NAME);
  return u.toString();
}

/**
 * The bytes of a batch, as blobs.ts keeps them (a `blobs` row per content, `blob_chunks` of
 * CHUNK_BYTES): the blobs rows and the one-chunk contents (most messages) in one statement
 * each, a larger content one chunk per statement. Two round trips per batch instead of one
 * per message (blobs.ts writeBlob): see docs/design-notes.md, 2026-12-05.
 */
async function writeBlobs(q: Queryable, rows: readonly Row[], bytes: Buffer[]): Promise<void> {
  const byHash = new Map<string, Buffer>();
  for (const [i, r] of rows.entries()) byHash.set(r.blob_hash as string, bytes[i]!);
  const hashes = [...byHash.keys()];
  // No node runs: nothing collects a blob meanwhile, so an existing row is simply kept.
  const fresh = await q.query<{ hash: string }>({
    text: `INSERT INTO blobs (hash, size) SELECT * FROM unnest($1::text[], $2::bigint[])
           ON CONFLICT (hash) DO NOTHING RETURNING hash`,
    values: [hashes, hashes.map((h) => byHash.get(h)!.length)],
  });
  const small: string[] = [];
  for (const { hash } of fresh.rows) {
    const b = byHash.get(hash)!;
    if (b.length === 0) continue;
    if (b.length <= CHUNK_BYTES) small.push(hash);
    // The row is there: writeBlob finds it and writes nothing, so write the chunks here.
    else {
      for (let seq = 0; seq * CHUNK_BYTES < b.length; seq++) {
        await q.query({
          text: 'INSERT INTO blob_chunks (hash, seq, data) VALUES ($1, $2, $3)',
          values: [hash, seq, b.subarray(seq * CHUNK_BYTES, (seq + 1) * CHUNK_BYTES)],
        });
      }
    }
  }
  if (small.length > 0) {
    await q.query({
      text: `INSERT INTO blob_chunks (hash, seq, data)
             SELECT h, 0, d FROM unnest($1::text[], $2::bytea[]) AS x(h, d)`,
      values: [small, small.map((h) => byHash.get(h)!)],
    });
  }
}

export class PostgresEndpoint implements Endpoint {
  readonly kind = 'postgres';

  private constructor(
    private readonly db: PgDb,
    readonly identity: string,
  ) {}

  /** The database at `opts.connectionString`, its schema brought up to date. */
  static async open(opts: PgOptions): Promise<PostgresEndpoint> {
    const u = new URL(opts.connectionString);
    u.password = '';
    u.searchParams.delete('application_name');
    const db = await PgDb.open({
      ...opts,
      connectionString: withAppName(opts.connectionString),
      max: 2,
    });
    return new PostgresEndpoint(db, `postgres:${u.toString()}`);
  }

  /** Client connections to this database other than ours: Letterbox nodes still running. */
  async otherClients(): Promise<number> {
    return this.scalar(
      `SELECT count(*) FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid()
         AND backend_type = 'client backend' AND application_name <> '${MIGRATE_APP_NAME}'`,
    );
  }

  async count(spec: TableSpec): Promise<number> {
    const where = spec.where ? ` WHERE ${spec.where}` : '';
    return this.scalar(`SELECT count(*) FROM ${spec.name}${where}`);
  }

  async scalar(sql: string): Promise<number> {
    const r = await this.db.pool.query<unknown[]>({ text: sql, rowMode: 'array' });
    return Number(r.rows[0]?.[0] ?? 0);
  }

  async readPage(spec: TableSpec, after: Value[] | null, limit: number): Promise<Row[]> {
    const cols = spec.columns
      .map((c) => (c.pgRead ? `${c.pgRead} AS ${c.name}` : c.name))
      .join(', ');
    const values: unknown[] = [...(after ?? [])];
    const conds = [
      ...(spec.where ? [spec.where] : []),
      ...(after ? [`(${keyExpr(spec)}) > (${after.map((_, i) => `$${i + 1}`).join(', ')})`] : []),
    ];
    values.push(limit);
    const where = conds.length > 0 ? ` WHERE ${conds.join(' AND ')}` : '';
    const r = await this.db.query<Record<string, unknown>>({
      text: `SELECT ${cols} FROM ${spec.name}${where} ORDER BY ${keyExpr(spec)} LIMIT $${values.length}`,
      values,
    });
    return r.rows.map((x) => {
      const out: Row = {};
      for (const c of spec.columns) out[c.name] = decode(c, x[c.name]);
      return out;
    });
  }

  async readBytes(_spec: TableSpec, rows: readonly Row[]): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (const r of rows) out.push(await readBlob(this.db, r.blob_hash as string));
    return out;
  }

  async lastUidValidity(): Promise<number> {
    return this.scalar(
      `SELECT GREATEST(last_uidvalidity, COALESCE((SELECT max(uid_validity) FROM mailboxes), 0))
       FROM store_counters`,
    );
  }

  async progress(): Promise<Progress | null> {
    if ((await this.scalar(`SELECT count(*) FROM pg_tables WHERE tablename = '${MARKER}'`)) === 0) {
      return null;
    }
    const r = await this.db.query<{ value: string }>({
      text: `SELECT value FROM ${MARKER} WHERE key = 'progress'`,
    });
    return r.rows[0] ? (JSON.parse(r.rows[0].value) as Progress) : null;
  }

  async isEmpty(): Promise<boolean> {
    const any = ['domains', 'accounts', 'mailboxes', 'messages', 'outbound']
      .map((t) => `EXISTS (SELECT 1 FROM ${t})`)
      .join(' OR ');
    return (await this.scalar(`SELECT CASE WHEN ${any} THEN 1 ELSE 0 END`)) === 0;
  }

  private async saveProgress(q: Queryable, p: Progress): Promise<void> {
    await q.query({
      text: `CREATE TABLE IF NOT EXISTS ${MARKER} (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
    });
    await q.query({
      text: `INSERT INTO ${MARKER} (key, value) VALUES ('progress', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      values: [JSON.stringify(p)],
    });
  }

  async setProgress(p: Progress): Promise<void> {
    await this.db.tx((q) => this.saveProgress(q, p));
  }

  async writePage(
    spec: TableSpec,
    rows: readonly Row[],
    bytes: Buffer[] | null,
    p: Progress,
  ): Promise<void> {
    const names = spec.columns.map((c) => c.name);
    if (spec.bytes === 'message') names.push('body_text', 'text_truncated', 'body_words');
    const values: unknown[] = [];
    const tuples: string[] = [];
    for (const [i, r] of rows.entries()) {
      const start = values.length;
      for (const c of spec.columns) values.push(encode(c, r[c.name] ?? null));
      if (bytes && spec.bytes === 'message') {
        // As delivery makes it with full_text_index = "on-delivery" (postgres/body-text.ts).
        const t = bodyTextFromBytes(bytes[i]!);
        values.push(t.folded.toString('utf8'), t.truncated, t.words.toString('utf8'));
      }
      tuples.push(`(${names.map((_, j) => `$${start + j + 1}`).join(', ')})`);
    }
    const overriding = spec.identity ? ' OVERRIDING SYSTEM VALUE' : '';
    await this.db.tx(async (q) => {
      // The bytes as the store keeps them (blobs.ts: once per content, in chunks).
      if (bytes) await writeBlobs(q, rows, bytes);
      if (rows.length > 0) {
        await q.query({
          text: `INSERT INTO ${spec.name} (${names.join(', ')})${overriding} VALUES ${tuples.join(', ')}`,
          values,
        });
      }
      await this.saveProgress(q, p);
    });
  }

  async finish(lastUidValidity: number): Promise<void> {
    await this.db.tx(async (q) => {
      await q.query({
        text: 'UPDATE store_counters SET last_uidvalidity = GREATEST(last_uidvalidity, $1)',
        values: [lastUidValidity],
      });
      // The next id each identity hands out comes after the copied ones.
      for (const t of ['accounts', 'mailboxes', 'messages', 'outbound']) {
        await q.query({
          text: `SELECT setval(pg_get_serial_sequence('${t}', 'id'),
                   COALESCE((SELECT max(id) FROM ${t}), 1), (SELECT max(id) FROM ${t}) IS NOT NULL)`,
        });
      }
    });
    // Statistics for the planner now: the tables went from empty to full in one go, and the
    // first node's queries should not wait for autovacuum to notice.
    await this.db.query({ text: 'ANALYZE' });
  }

  async clearProgress(): Promise<void> {
    await this.db.query({ text: `DROP TABLE IF EXISTS ${MARKER}` });
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
