// What `letterbox store migrate` copies: every table a client or an administrator sees, in
// an order that satisfies the foreign keys, each column in one canonical form that both
// backends convert to and from (endpoint.ts). Both backends keep the same tables and columns
// (docs/architecture.md, Store); what only one of them has stays out of the list: SQLite's
// change_log (other processes' events), its copies of large mailboxes' columns
// (mailbox_columns, made again when read) and its full-text index (fts.db, rebuilt from the
// messages by the store's worker), PostgreSQL's search text (made again from the bytes when
// written, postgres-endpoint.ts) and its lease owners. The bytes of messages and queued items
// travel with their rows (`bytes`), each checked against its SHA-256 name.

/**
 * How a column's value looks in the canonical row: `int` a number, `text` a string, `bool` a
 * boolean, `list` a string[] (JSON text in SQLite, TEXT[] in PostgreSQL), `flags` a string[]
 * (space-separated in SQLite, TEXT[] in PostgreSQL), `bytes` a Buffer. Any may be null.
 */
export type ColumnKind = 'int' | 'text' | 'bool' | 'list' | 'flags' | 'bytes';

export interface Column {
  name: string;
  kind: ColumnKind;
  /** The expression SQLite reads it with, when not the column itself. */
  sqliteRead?: string;
  /** The expression PostgreSQL reads it with, when not the column itself. */
  pgRead?: string;
}

/** One part of a table's order: a column, compared as bytes when text, NULL read as nullAs. */
export interface KeyPart {
  column: string;
  text?: boolean;
  nullAs?: number;
}

export interface TableSpec {
  name: string;
  columns: Column[];
  /** A unique order both backends read the table in: pages go on from the last key seen. */
  key: KeyPart[];
  /** Only the rows this condition (SQL both backends take) keeps. */
  where?: string;
  /** PostgreSQL's identity column, given explicitly here and moved past at the end. */
  identity?: string;
  /** The rows carry bytes: a stored message's, or a queued item's. */
  bytes?: 'message' | 'queue';
  /** Rows per page (at most; pages with bytes also stop at BYTES_PER_PAGE). */
  page: number;
}

/** Bytes of messages read and written in one batch, at most (one larger message goes alone). */
export const BYTES_PER_PAGE = 32 * 1024 * 1024;

const int = (name: string): Column => ({ name, kind: 'int' });
const text = (name: string): Column => ({ name, kind: 'text' });
const bool = (name: string): Column => ({ name, kind: 'bool' });

export const TABLES: readonly TableSpec[] = [
  {
    name: 'domains',
    columns: [text('name'), int('created_at')],
    key: [{ column: 'name', text: true }],
    page: 1000,
  },
  {
    name: 'accounts',
    // The password hash as stored (scrypt, or a moved-in foreign hash): logins go on working.
    columns: [
      int('id'),
      text('address'),
      text('domain'),
      text('password_hash'),
      int('quota_bytes'),
      int('used_bytes'),
      int('modseq'),
      text('pop3_policy'),
      bool('disabled'),
      int('created_at'),
      int('unlocked_at'),
      bool('admin'),
    ],
    key: [{ column: 'id' }],
    identity: 'id',
    page: 1000,
  },
  {
    name: 'app_passwords',
    columns: [
      int('account_id'),
      text('id'),
      text('name'),
      text('hash'),
      int('created_at'),
      int('last_used_at'),
    ],
    // Listed by creation: PostgreSQL numbers them (seq) in the order they are written.
    key: [{ column: 'account_id' }, { column: 'created_at' }, { column: 'id', text: true }],
    page: 1000,
  },
  {
    name: 'aliases',
    columns: [
      text('address'),
      text('domain'),
      { name: 'targets', kind: 'list' },
      int('created_at'),
    ],
    key: [{ column: 'address', text: true }],
    page: 1000,
  },
  {
    name: 'mailboxes',
    // UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and MAILBOXID as they are: a client's cache stays
    // valid (RFC 9051 §2.3.1.1, RFC 7162 §3, RFC 8474 §4).
    columns: [
      int('id'),
      int('account_id'),
      text('name'),
      int('uid_validity'),
      int('uid_next'),
      int('highest_modseq'),
      int('first_recent_uid'),
      text('special_use'),
      text('object_id'),
    ],
    key: [{ column: 'id' }],
    identity: 'id',
    page: 1000,
  },
  {
    name: 'subscriptions',
    columns: [int('account_id'), text('name')],
    key: [{ column: 'account_id' }, { column: 'name', text: true }],
    page: 2000,
  },
  {
    name: 'mailbox_keywords',
    columns: [int('mailbox_id'), text('keyword')],
    key: [{ column: 'mailbox_id' }, { column: 'keyword', text: true }],
    page: 2000,
  },
  {
    name: 'messages',
    // EMAILID and THREADID (RFC 8474 §5) with the stored message; messages no mailbox holds
    // any more (waiting for collection) stay behind.
    columns: [
      int('id'),
      text('blob_hash'),
      int('size'),
      text('structure'),
      text('envelope'),
      text('s_from'),
      text('s_to'),
      text('s_cc'),
      text('s_bcc'),
      text('s_subject'),
      text('s_message_id'),
      int('sent_at'),
      { name: 's_references', kind: 'list' },
      text('e_from'),
      text('e_to'),
      text('e_cc'),
      text('e_bcc'),
      text('email_id'),
      text('thread_id'),
      text('preview'),
    ],
    key: [{ column: 'id' }],
    where: 'EXISTS (SELECT 1 FROM mailbox_messages x WHERE x.message_id = messages.id)',
    identity: 'id',
    bytes: 'message',
    page: 500,
  },
  {
    name: 'mailbox_messages',
    // UID, flags and keywords, MODSEQ (RFC 7162), INTERNALDATE with its zone, SAVEDATE (RFC
    // 8514: SQLite leaves it NULL for rows stored before it existed, read as the internal date).
    columns: [
      int('mailbox_id'),
      int('uid'),
      int('message_id'),
      { name: 'flags', kind: 'flags' },
      int('modseq'),
      int('internal_date'),
      int('internal_zone'),
      { name: 'save_date', kind: 'int', sqliteRead: 'COALESCE(save_date, internal_date)' },
      int('size'),
    ],
    key: [{ column: 'mailbox_id' }, { column: 'uid' }],
    page: 2000,
  },
  {
    name: 'expunged',
    // The expunged UIDs with their MODSEQ: QRESYNC's VANISHED (EARLIER) (RFC 7162 §3.2.5.1).
    columns: [int('mailbox_id'), int('uid'), int('modseq')],
    key: [{ column: 'mailbox_id' }, { column: 'uid' }],
    page: 4000,
  },
  {
    name: 'metadata',
    columns: [int('account_id'), int('mailbox_id'), text('name'), { name: 'value', kind: 'bytes' }],
    key: [
      { column: 'account_id' },
      { column: 'mailbox_id', nullAs: 0 },
      { column: 'name', text: true },
    ],
    page: 1000,
  },
  {
    name: 'outbound',
    columns: [
      int('id'),
      text('blob_hash'),
      int('size'),
      text('sender'),
      text('envid'),
      text('ret'),
      // SQLite sets it NULL when the account goes (ON DELETE SET NULL); PostgreSQL keeps the
      // number: read there as SQLite would have it.
      {
        name: 'account_id',
        kind: 'int',
        pgRead:
          'CASE WHEN EXISTS (SELECT 1 FROM accounts a WHERE a.id = outbound.account_id) THEN account_id END',
      },
      int('created_at'),
      int('next_attempt_at'),
      int('attempts'),
      bool('held'),
      int('lease_until'),
      int('last_attempt_at'),
      bool('delay_notified'),
    ],
    key: [{ column: 'id' }],
    identity: 'id',
    bytes: 'queue',
    page: 500,
  },
  {
    name: 'outbound_recipients',
    columns: [
      int('outbound_id'),
      text('address'),
      text('notify'),
      text('orcpt'),
      text('state'),
      text('last_error'),
      text('status'),
      text('remote_mta'),
      int('updated_at'),
    ],
    key: [{ column: 'outbound_id' }, { column: 'address', text: true }],
    page: 2000,
  },
];

/**
 * What each backend has that is not copied as a table or column of TABLES, and why; a test
 * (test/store/migrate.test.ts) reads both schemas and fails on anything in neither list, so
 * that a table or column added later is decided on here.
 */
export const NOT_COPIED: Record<'sqlite' | 'postgres', Record<string, string>> = {
  sqlite: {
    meta: 'last_uidvalidity is carried over by Endpoint.finish',
    message_data: 'the bytes of small messages: they travel with the messages rows',
    message_bytes: 'the bytes of small messages: they travel with the messages rows',
    change_log: "another process's change events, for a server running beside it",
    sqlite_sequence: 'SQLite keeps change_log AUTOINCREMENT there',
    'metadata.id': 'a rowid; entries are keyed by account, mailbox and name',
    'mailboxes.message_count': "kept by triggers as the mailbox's rows are written",
    mailbox_columns: "a copy of a large mailbox's rows for a fast start, made again when read",
  },
  postgres: {
    schema_migrations: 'the schema version, written by the store when it opens',
    store_counters: 'last_uidvalidity is carried over by Endpoint.finish',
    blobs: 'the bytes of messages and queued items: they travel with their rows',
    blob_chunks: 'the bytes of messages and queued items: they travel with their rows',
    'messages.body_text': 'the search text, made again from the bytes when written',
    'messages.text_truncated': 'made with body_text',
    'messages.body_words': 'made with body_text',
    text_marks: "how far each mailbox's search text is made (postgres/text-catch-up.ts)",
    'outbound.lease_owner': 'the node holding a lease; nodes are stopped, none holds one',
    'accounts.listened_until':
      "a node's lease on the account's notices (postgres/events.ts); nodes are stopped, none holds one",
    'accounts.listened_by':
      "the lease's holder node (postgres/events.ts); nodes are stopped, none holds one",
    'accounts.held_until': "the holder's lease (postgres/events.ts); nodes are stopped",
    'accounts.others_until': "other nodes' leases (postgres/events.ts); nodes are stopped",
    'app_passwords.seq': 'numbered again in the order rows are written (creation order)',
    auth_failures: "the login throttle's recent failures (SQLite keeps them in memory only)",
    auth_trust: "the login throttle's trusted sources (SQLite keeps them in memory only)",
  },
};

export type Value = number | string | boolean | string[] | Buffer | null;
export type Row = Record<string, Value>;

/** The position a page ends at: the key of its last row. */
export function keyOf(spec: TableSpec, row: Row): Value[] {
  return spec.key.map((k) => row[k.column] ?? k.nullAs ?? null);
}

export function tableSpec(name: string): TableSpec {
  const t = TABLES.find((x) => x.name === name);
  if (!t) throw new Error(`no table ${name}`);
  return t;
}
