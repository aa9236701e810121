// One side of a store migration: a backend's tables read in pages in canonical form
// (tables.ts), and written back in batches, each batch committed together with the
// migration's position, so that an interrupted migration goes on where it stopped. This is
// each backend's bulk restore path: rows keep their ids, UIDs and modseqs, and no change
// event is sent (no server runs on either side).
import type { Row, TableSpec, Value } from './tables.js';

/** Where a migration stands, kept in the target (the table letterbox_store_migration). */
export interface Progress {
  /** The source, as Endpoint.identity: only the same source may go on with it. */
  source: string;
  /** The source's row counts and modseq total when the migration began (copy.ts). */
  fingerprint: string;
  /** The index in TABLES of the table being copied; TABLES.length once all are. */
  table: number;
  /** The key of the last row copied of that table, or null before its first. */
  after: Value[] | null;
}

export interface Endpoint {
  readonly kind: 'sqlite' | 'postgres';
  /** The store's place (a directory, a URL without password), for the marker and messages. */
  readonly identity: string;
  /** Rows of the table (as copied: spec.where applies). */
  count(spec: TableSpec): Promise<number>;
  /** A number from a query both dialects run (the modseq total of the fingerprint). */
  scalar(sql: string): Promise<number>;
  /** Up to `limit` rows after the key `after`, in key order. */
  readPage(spec: TableSpec, after: Value[] | null, limit: number): Promise<Row[]>;
  /** The bytes of each row of a table with bytes, in order. */
  readBytes(spec: TableSpec, rows: readonly Row[]): Promise<Buffer[]>;
  /** The last UIDVALIDITY handed out: a target never hands out one of the source's again. */
  lastUidValidity(): Promise<number>;

  /** The migration this store is the target of, or null. */
  progress(): Promise<Progress | null>;
  /** No domain, account, mailbox, message or queued item. */
  isEmpty(): Promise<boolean>;
  /** Writes the progress alone (a migration's start, a table done). */
  setProgress(p: Progress): Promise<void>;
  /** Writes rows (with their bytes) and the progress after them, in one transaction. */
  writePage(
    spec: TableSpec,
    rows: readonly Row[],
    bytes: Buffer[] | null,
    p: Progress,
  ): Promise<void>;
  /** After the last table: counters and id sequences moved past what was copied. */
  finish(lastUidValidity: number): Promise<void>;
  /** The migration is complete: its marker goes. */
  clearProgress(): Promise<void>;
  close(): Promise<void>;
}

/** Refusals (a server running, a target holding other data, a changed source): exit 1. */
export class MigrateError extends Error {}
