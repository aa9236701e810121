// Versioned schema migrations, applied in order inside one transaction each; the applied
// version is kept in PRAGMA user_version. Never edit a released migration: add a new one.
import type Database from 'better-sqlite3';
import { envelopeAddressTexts } from '../../mime/address-text.js';
import { inReplyToOf, threadIdFor } from './threads.js';

export interface Migration {
  version: number;
  sql: string;
  /** Work SQL cannot do (rows recomputed in JS), run after `sql` in the same transaction. */
  run?: (db: Database.Database) => void;
}

export const MIGRATIONS: ReadonlyArray<Migration> = [
  {
    version: 1,
    sql: `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE domains (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY,
  address TEXT NOT NULL UNIQUE,
  domain TEXT NOT NULL REFERENCES domains(name),
  password_hash TEXT NOT NULL,
  quota_bytes INTEGER,
  used_bytes INTEGER NOT NULL DEFAULT 0,
  modseq INTEGER NOT NULL DEFAULT 0,
  pop3_policy TEXT NOT NULL DEFAULT 'delete',
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE INDEX accounts_domain ON accounts(domain);
CREATE TABLE aliases (
  address TEXT PRIMARY KEY,
  domain TEXT NOT NULL REFERENCES domains(name),
  targets TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX aliases_domain ON aliases(domain);
CREATE TABLE mailboxes (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  uid_validity INTEGER NOT NULL,
  uid_next INTEGER NOT NULL DEFAULT 1,
  highest_modseq INTEGER NOT NULL,
  special_use TEXT,
  UNIQUE (account_id, name)
);
CREATE TABLE subscriptions (
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  PRIMARY KEY (account_id, name)
) WITHOUT ROWID;
CREATE TABLE messages (
  id INTEGER PRIMARY KEY,
  blob_hash TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  structure TEXT NOT NULL,
  envelope TEXT NOT NULL,
  s_from TEXT NOT NULL, s_to TEXT NOT NULL, s_cc TEXT NOT NULL, s_bcc TEXT NOT NULL,
  s_subject TEXT NOT NULL, s_message_id TEXT NOT NULL, sent_at INTEGER
);
CREATE TABLE mailbox_messages (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  flags TEXT NOT NULL,
  modseq INTEGER NOT NULL,
  internal_date INTEGER NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX mailbox_messages_message ON mailbox_messages(message_id);
CREATE INDEX mailbox_messages_modseq ON mailbox_messages(mailbox_id, modseq);
CREATE TABLE expunged (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
-- Trigram tokens give IMAP SEARCH its case-insensitive substring semantics (RFC 9051 §6.4.4).
CREATE VIRTUAL TABLE message_text USING fts5(text, tokenize = 'trigram');
`,
  },
  {
    version: 2,
    sql: `
CREATE TABLE outbound (
  id INTEGER PRIMARY KEY,
  blob_hash TEXT NOT NULL,
  size INTEGER NOT NULL,
  sender TEXT NOT NULL,
  envid TEXT,
  ret TEXT,
  account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
  created_at INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbound_next ON outbound(next_attempt_at);
CREATE INDEX outbound_blob ON outbound(blob_hash);
CREATE TABLE outbound_recipients (
  outbound_id INTEGER NOT NULL REFERENCES outbound(id) ON DELETE CASCADE,
  address TEXT NOT NULL,
  notify TEXT,
  orcpt TEXT,
  state TEXT NOT NULL DEFAULT 'pending',
  last_error TEXT,
  PRIMARY KEY (outbound_id, address)
) WITHOUT ROWID;
`,
  },
  {
    version: 3,
    // NULL for rows stored before: readers then fall back to the message's header.
    sql: 'ALTER TABLE messages ADD COLUMN s_references TEXT;',
  },
  {
    version: 4,
    // Full-text search moved to its own database, fts.db, owned by a worker thread (see
    // fts.ts). Nothing is copied: the worker's startup reconciliation indexes every message
    // its database lacks, from the blobs.
    sql: 'DROP TABLE IF EXISTS message_text;',
  },
  {
    version: 5,
    // Small messages' bytes live in the database, committed with their rows: no file, no
    // file and directory fsyncs (see messages.ts INLINE_MAX). Keyed by the blob hash, like
    // the files; rows no message holds are reclaimed later (data-purge.ts).
    sql: `
CREATE TABLE message_data (
  id INTEGER PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  data BLOB NOT NULL
);`,
  },
  {
    version: 6,
    // The queue worker (queue/worker.ts): items can be held; a claimed item carries a lease
    // (a worker that dies mid-attempt leaves it to be retried when the lease runs out); each
    // recipient keeps its last outcome for `queue show` and for DSNs.
    sql: `
ALTER TABLE outbound ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbound ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbound ADD COLUMN last_attempt_at INTEGER;
ALTER TABLE outbound ADD COLUMN delay_notified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbound_recipients ADD COLUMN status TEXT;
ALTER TABLE outbound_recipients ADD COLUMN remote_mta TEXT;
ALTER TABLE outbound_recipients ADD COLUMN updated_at INTEGER;
CREATE INDEX outbound_due ON outbound(held, next_attempt_at);`,
  },
  {
    version: 7,
    // SEARCH FROM / TO / CC / BCC match the ENVELOPE's addresses (RFC 3501 §6.4.4), not the
    // raw header the s_* columns keep for HEADER: the addresses written out once, here for
    // the messages stored before (from their stored envelope), at insert for new ones.
    sql: `
ALTER TABLE messages ADD COLUMN e_from TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN e_to TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN e_cc TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN e_bcc TEXT NOT NULL DEFAULT '';`,
    run: fillEnvelopeAddresses,
  },
  {
    version: 8,
    // outbound_due (schema 6) serves every query outbound_next served: each claim, outcome
    // and removal wrote both, ~12 KiB of WAL per message for nothing (bench/outbound).
    sql: 'DROP INDEX IF EXISTS outbound_next;',
  },
  {
    version: 9,
    // IMAP METADATA (RFC 5464): annotations of the account's server view (mailbox_id NULL) or
    // of one mailbox; deleting the mailbox or the account drops them, a rename keeps them
    // (the id stays). Names are stored lower-case (entry names are case-insensitive).
    sql: `
CREATE TABLE metadata (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  mailbox_id INTEGER REFERENCES mailboxes(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value BLOB NOT NULL
);
CREATE UNIQUE INDEX metadata_entry ON metadata(account_id, IFNULL(mailbox_id, 0), name);
CREATE INDEX metadata_mailbox ON metadata(mailbox_id);`,
  },
  {
    version: 10,
    // Object identifiers (RFC 8474), save dates (RFC 8514) and cached previews (RFC 8970).
    // MAILBOXID and EMAILID are random, never derived from row ids (SQLite reuses those).
    // Rows stored before: each mailbox and message gets its ids here, threads are worked out
    // below in storage order, as delivery does; save_date stays NULL (the internal date
    // stands in for it, see message-reads.ts messageExtras); previews are computed on first FETCH.
    sql: `
ALTER TABLE mailboxes ADD COLUMN object_id TEXT;
UPDATE mailboxes SET object_id = 'F' || lower(hex(randomblob(12)));
ALTER TABLE messages ADD COLUMN email_id TEXT;
ALTER TABLE messages ADD COLUMN thread_id TEXT;
ALTER TABLE messages ADD COLUMN preview TEXT;
UPDATE messages SET email_id = 'M' || lower(hex(randomblob(12)));
ALTER TABLE mailbox_messages ADD COLUMN save_date INTEGER;
CREATE INDEX messages_message_id ON messages(s_message_id) WHERE s_message_id <> '';`,
    run: backfillThreads,
  },
  {
    version: 11,
    // RFC 3501 §2.3.2 \Recent: messages with a UID from here on have not been claimed by a
    // read-write session yet (see MailStore.claimRecent). 1 for mailboxes made before: RFC
    // 3501 says a message SHOULD count as recent when that cannot be known.
    sql: 'ALTER TABLE mailboxes ADD COLUMN first_recent_uid INTEGER NOT NULL DEFAULT 1;',
  },
  {
    version: 12,
    // Account access (issue 16): unlocked_at is when an administrator last lifted the login
    // lockouts of the account (the running server's throttle compares it with its own lockouts,
    // auth/authenticator.ts); app passwords are per device, each found by the id its secret
    // begins with, stored as a hash (auth/app-password.ts) and dropped with the account.
    sql: `
ALTER TABLE accounts ADD COLUMN unlocked_at INTEGER;
CREATE TABLE app_passwords (
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  PRIMARY KEY (account_id, id),
  UNIQUE (account_id, name)
);`,
  },
  {
    version: 13,
    // The zone APPEND gave INTERNALDATE (minutes east of UTC): FETCH shows it, SEARCH BEFORE /
    // ON / SINCE count days in it. Rows stored before were kept in UTC, and stay so.
    sql: 'ALTER TABLE mailbox_messages ADD COLUMN internal_zone INTEGER NOT NULL DEFAULT 0;',
  },
  {
    version: 14,
    // Every keyword ever put on a message of the mailbox (RFC 3501 §7.2.6): SELECT's FLAGS
    // keeps listing it after the last message loses it, as clients keep the list. Keywords
    // messages have now are read from the messages, so nothing is filled in here.
    sql: `
CREATE TABLE IF NOT EXISTS mailbox_keywords (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  keyword TEXT NOT NULL COLLATE NOCASE,
  PRIMARY KEY (mailbox_id, keyword)
) WITHOUT ROWID;`,
  },
  {
    version: 15,
    // The admin role (issue 16): an account that may sign in to the admin API and the web
    // admin (`letterbox user admin <address> on|off`). No account has it until one is given it.
    sql: 'ALTER TABLE accounts ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;',
  },
  {
    version: 16,
    // Change events of a store that another process has open too (change-log.ts: `letterbox
    // import` beside a running server). AUTOINCREMENT: a reader goes on from the last seq it
    // saw, so a seq is never given again after old rows are dropped.
    sql: `
CREATE TABLE IF NOT EXISTS change_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  event TEXT NOT NULL
);`,
  },
  {
    version: 17,
    // SELECT without reading every row (issue 18 item 6, a mailbox of a million): the number
    // of messages kept in the mailbox's row by triggers, so in the same transaction as every
    // insert and delete of mailbox_messages whichever path makes it (append, copy, move,
    // expunge, a mailbox's delete, store migrate); the first unseen message from an index of
    // the unseen rows only (flags are stored canonical, space-separated, and no other flag
    // contains `\Seen`); and every keyword on a message in mailbox_keywords (migration 14
    // left those of older messages out; since then each write keeps them), so that SELECT's
    // FLAGS comes from that table alone.
    sql: `
ALTER TABLE mailboxes ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
UPDATE mailboxes SET message_count =
  (SELECT count(*) FROM mailbox_messages mm WHERE mm.mailbox_id = mailboxes.id);
CREATE TRIGGER mailbox_messages_counted AFTER INSERT ON mailbox_messages BEGIN
  UPDATE mailboxes SET message_count = message_count + 1 WHERE id = NEW.mailbox_id;
END;
CREATE TRIGGER mailbox_messages_uncounted AFTER DELETE ON mailbox_messages BEGIN
  UPDATE mailboxes SET message_count = message_count - 1 WHERE id = OLD.mailbox_id;
END;
CREATE INDEX mailbox_messages_unseen ON mailbox_messages(mailbox_id, uid)
  WHERE instr(flags, '\\Seen') = 0;`,
    run: keepMessageKeywords,
  },
  {
    version: 18,
    // A copy of a large mailbox's columns as of a modseq, so that a start does not read
    // every row (issue 18 item 6; column-snapshot.ts has the layout and why it stays true).
    sql: `
CREATE TABLE IF NOT EXISTS mailbox_columns (
  mailbox_id INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid_validity INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  n INTEGER NOT NULL,
  lists TEXT NOT NULL,
  data BLOB NOT NULL
);`,
  },
  {
    version: 19,
    // Small messages' bytes keyed by their message's id (message-bytes.ts): a delivery's
    // insert goes to the table's last leaf instead of a random leaf of message_data's hash
    // index. message_data keeps the rows stored before, read and purged as before.
    sql: `
CREATE TABLE IF NOT EXISTS message_bytes (
  id INTEGER PRIMARY KEY,
  data BLOB NOT NULL
);`,
  },
];

/** Migration 17: the keywords messages have, into their mailboxes' mailbox_keywords. */
function keepMessageKeywords(db: Database.Database): void {
  const insert = db.prepare(
    'INSERT OR IGNORE INTO mailbox_keywords (mailbox_id, keyword) VALUES (?, ?)',
  );
  // A keyword is a flag without a backslash: lists of system flags only are skipped in SQL.
  const lists = db
    .prepare(
      `SELECT DISTINCT mailbox_id, flags FROM mailbox_messages
       WHERE (' ' || flags) GLOB '* [^\\]*'`,
    )
    .raw(true)
    .all() as [number, string][];
  for (const [mailboxId, flags] of lists) {
    for (const f of flags.split(' ')) if (f !== '' && f[0] !== '\\') insert.run(mailboxId, f);
  }
}

function fillEnvelopeAddresses(db: Database.Database): void {
  const update = db.prepare(
    'UPDATE messages SET e_from = ?, e_to = ?, e_cc = ?, e_bcc = ? WHERE id = ?',
  );
  // In pages by id: a mailbox of millions of messages is never held in memory at once.
  const page = db.prepare('SELECT id, envelope FROM messages WHERE id > ? ORDER BY id LIMIT 1000');
  for (let after = 0; ; ) {
    const rows = page.all(after) as { id: number; envelope: string }[];
    if (rows.length === 0) return;
    for (const r of rows) {
      let envelope: unknown = null;
      try {
        envelope = JSON.parse(r.envelope);
      } catch {
        // A row whose envelope cannot be read searches as having no addresses.
      }
      const t = envelopeAddressTexts(envelope);
      if (t.from || t.to || t.cc || t.bcc) update.run(t.from, t.to, t.cc, t.bcc, r.id);
    }
    after = rows[rows.length - 1]!.id;
  }
}

export function migrate(db: Database.Database): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  if (current > latest) {
    throw new Error(
      `database schema version ${current} is newer than this letterbox (${latest}); upgrade letterbox`,
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      m.run?.(db);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return latest;
}

/**
 * Migration 7: THREADIDs for the messages stored before, oldest first, as delivery would have
 * given them (see threads.ts). Read in pages: a statement cannot write while another iterates.
 */
function backfillThreads(db: Database.Database): void {
  const page = db.prepare(
    'SELECT id, s_message_id, s_references, envelope FROM messages WHERE id > ? ORDER BY id LIMIT 500',
  );
  const set = db.prepare('UPDATE messages SET thread_id = ? WHERE id = ?');
  let after = 0;
  for (;;) {
    const rows = page.all(after) as {
      id: number;
      s_message_id: string;
      s_references: string | null;
      envelope: string;
    }[];
    if (rows.length === 0) return;
    for (const r of rows) {
      const refs = r.s_references === null ? [] : (JSON.parse(r.s_references) as string[]);
      set.run(threadIdFor(db, r.s_message_id, refs, inReplyToOf(JSON.parse(r.envelope))), r.id);
      after = r.id;
    }
  }
}
