// The SQLite side of a store migration: a data directory's letterbox.db and blobs/, read or
// written directly (no SqliteStore: no full-text worker, no group commit, no events). As a
// target, every batch is one transaction made durable before the next (synchronous = FULL),
// with the bytes of large messages and queued items written to blob files and fsynced
// before it, small messages' bytes as rows keyed by their message (sqlite/message-bytes.ts),
// as the store keeps them (INLINE_MAX).
// The full-text index (fts.db) is not written: the server's worker builds it from the
// messages at start, as it does for any message it lacks.
import { realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FileBlobStore, fsyncDir } from '../blobs/file-blobs.js';
import { decodeFlags, encodeFlags } from '../flags.js';
import { nulFree } from '../postgres/nul-free.js';
import { type Db, openDatabase, stmt } from '../sqlite/db.js';
import { BYTES_OF_HASH, INSERT_BYTES } from '../sqlite/message-bytes.js';
import { INLINE_MAX } from '../sqlite/messages.js';
import type { Endpoint, Progress } from './endpoint.js';
import type { Column, Row, TableSpec, Value } from './tables.js';

const MARKER = 'letterbox_store_migration';

function decode(c: Column, v: unknown): Value {
  if (v === null || v === undefined) return null;
  switch (c.kind) {
    case 'bool':
      return v !== 0;
    case 'list':
      return (JSON.parse(v as string) as string[]).map(nulFree);
    case 'flags':
      return decodeFlags(v as string);
    case 'bytes':
      return Buffer.isBuffer(v) ? v : Buffer.from(String(v));
    default:
      // A message's header fields may hold NUL, which PostgreSQL's text cannot: both sides'
      // canonical rows have U+FFFD in its place (postgres/nul-free.ts), as delivery does.
      return typeof v === 'string' ? nulFree(v) : (v as number);
  }
}

function encode(c: Column, v: Value): unknown {
  if (v === null) return c.kind === 'flags' ? '' : null;
  switch (c.kind) {
    case 'bool':
      return v ? 1 : 0;
    case 'list':
      return JSON.stringify(v);
    case 'flags':
      return encodeFlags(v as string[]);
    default:
      return v;
  }
}

function keyExpr(spec: TableSpec): string {
  return spec.key
    .map(
      (k) =>
        (k.nullAs === undefined ? k.column : `COALESCE(${k.column}, ${k.nullAs})`) +
        (k.text ? ' COLLATE BINARY' : ''),
    )
    .join(', ');
}

export class SqliteEndpoint implements Endpoint {
  readonly kind = 'sqlite';

  private constructor(
    private readonly db: Db,
    private readonly blobs: FileBlobStore,
    readonly identity: string,
  ) {}

  /**
   * The store in data directory `dir` (created when missing, its schema brought up to date
   * as the server would). As a target, commits are synchronous: a batch reported is on disk.
   */
  static async open(dir: string, role: 'source' | 'target'): Promise<SqliteEndpoint> {
    const db = openDatabase(join(dir, 'letterbox.db'));
    const blobs = new FileBlobStore(join(dir, 'blobs'));
    if (role === 'target') {
      db.pragma('synchronous = FULL');
      await blobs.init();
    }
    return new SqliteEndpoint(db, blobs, `sqlite:${realpathSync(resolve(dir))}`);
  }

  private stmt(sql: string) {
    return stmt(this.db, sql);
  }

  async count(spec: TableSpec): Promise<number> {
    const where = spec.where ? ` WHERE ${spec.where}` : '';
    return this.stmt(`SELECT count(*) FROM ${spec.name}${where}`).pluck().get() as number;
  }

  async scalar(sql: string): Promise<number> {
    return Number(this.stmt(sql).pluck().get() ?? 0);
  }

  async readPage(spec: TableSpec, after: Value[] | null, limit: number): Promise<Row[]> {
    const cols = spec.columns
      .map((c) => (c.sqliteRead ? `${c.sqliteRead} AS ${c.name}` : c.name))
      .join(', ');
    const conds = [
      ...(spec.where ? [spec.where] : []),
      ...(after ? [`(${keyExpr(spec)}) > (${after.map(() => '?').join(', ')})`] : []),
    ];
    const where = conds.length > 0 ? ` WHERE ${conds.join(' AND ')}` : '';
    const raw = this.stmt(
      `SELECT ${cols} FROM ${spec.name}${where} ORDER BY ${keyExpr(spec)} LIMIT ?`,
    ).all(...(after ?? []), limit) as Record<string, unknown>[];
    return raw.map((r) => {
      const out: Row = {};
      for (const c of spec.columns) out[c.name] = decode(c, r[c.name]);
      return out;
    });
  }

  async readBytes(spec: TableSpec, rows: readonly Row[]): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (const r of rows) {
      const hash = r.blob_hash as string;
      const size = r.size as number;
      // A stored message of at most INLINE_MAX is a row (message-bytes.ts), unless it was
      // stored before those existed; a queued item is always a file.
      const inline =
        spec.bytes === 'message' && size <= INLINE_MAX
          ? (this.stmt(BYTES_OF_HASH).pluck().get(hash, hash) as Buffer | null)
          : null;
      out.push(inline ?? (await this.blobs.read(hash, size)));
    }
    return out;
  }

  async lastUidValidity(): Promise<number> {
    return this.scalar(
      `SELECT max(COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_uidvalidity'), 0),
                  COALESCE((SELECT max(uid_validity) FROM mailboxes), 0))`,
    );
  }

  async progress(): Promise<Progress | null> {
    const exists = this.stmt(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(
      MARKER,
    );
    if (!exists) return null;
    const v = this.db.prepare(`SELECT value FROM ${MARKER} WHERE key = 'progress'`).pluck().get() as
      | string
      | undefined;
    return v === undefined ? null : (JSON.parse(v) as Progress);
  }

  async isEmpty(): Promise<boolean> {
    const any = ['domains', 'accounts', 'mailboxes', 'messages', 'outbound']
      .map((t) => `EXISTS (SELECT 1 FROM ${t})`)
      .join(' OR ');
    return (this.stmt(`SELECT ${any}`).pluck().get() as number) === 0;
  }

  private saveProgress(p: Progress): void {
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS ${MARKER} (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
    );
    this.db
      .prepare(
        `INSERT INTO ${MARKER} (key, value) VALUES ('progress', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      )
      .run(JSON.stringify(p));
  }

  async setProgress(p: Progress): Promise<void> {
    this.db.transaction(() => this.saveProgress(p)).immediate();
  }

  async writePage(
    spec: TableSpec,
    rows: readonly Row[],
    bytes: Buffer[] | null,
    p: Progress,
  ): Promise<void> {
    // Files first, durable (fsynced, their directories too) before the rows naming them commit.
    // Small messages' bytes by the id their row is copied with (message-bytes.ts).
    const inline = new Map<number, Buffer>();
    if (bytes) {
      const dirs = new Set<string>();
      for (const [i, r] of rows.entries()) {
        const data = bytes[i]!;
        const hash = r.blob_hash as string;
        if (spec.bytes === 'message' && data.length <= INLINE_MAX) inline.set(r.id as number, data);
        else for (const d of await this.blobs.put(hash, data)) dirs.add(d);
      }
      await Promise.all([...dirs].map((d) => fsyncDir(d)));
    }
    const insert = this.stmt(
      `INSERT INTO ${spec.name} (${spec.columns.map((c) => c.name).join(', ')})
       VALUES (${spec.columns.map(() => '?').join(', ')})`,
    );
    const data = this.stmt(INSERT_BYTES);
    this.db
      .transaction(() => {
        for (const r of rows) insert.run(...spec.columns.map((c) => encode(c, r[c.name] ?? null)));
        for (const [id, b] of inline) data.run(id, b);
        this.saveProgress(p);
      })
      .immediate();
  }

  async finish(lastUidValidity: number): Promise<void> {
    // The copy's WAL into the database file, so the server does not start with all of it.
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.stmt(
      `INSERT INTO meta (key, value) VALUES ('last_uidvalidity', ?)
       ON CONFLICT (key) DO UPDATE SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))`,
    ).run(String(lastUidValidity));
  }

  async clearProgress(): Promise<void> {
    this.db.exec(`DROP TABLE IF EXISTS ${MARKER}`);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
