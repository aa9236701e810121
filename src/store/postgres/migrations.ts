// Versioned schema migrations of the PostgreSQL store, each applied in its own transaction
// with its version recorded in schema_migrations. Several nodes may start at once: each
// migration runs under a transaction-scoped advisory lock, and a node that finds a version
// applied skips it. Never edit a released migration: add a new one.
import type pg from 'pg';
import type { PgDb, Queryable } from './db.js';
import { WORD_SEPARATORS_SQL } from './search-words.js';

export interface PgMigration {
  version: number;
  sql: string;
}

/** The advisory lock key of schema changes ('lbschema' as bytes). */
const MIGRATION_LOCK = '7809931574604295521';

export const PG_MIGRATIONS: ReadonlyArray<PgMigration> = [
  {
    version: 1,
    // The directory and the mailboxes, and the rows of messages in mailboxes that STATUS
    // counts. Names compare and sort as bytes (COLLATE "C"), as in the SQLite store.
    sql: `
CREATE TABLE store_counters (
  one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
  last_uidvalidity BIGINT NOT NULL
);
INSERT INTO store_counters (last_uidvalidity) VALUES (0);
CREATE TABLE domains (name TEXT COLLATE "C" PRIMARY KEY, created_at BIGINT NOT NULL);
CREATE TABLE accounts (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  address TEXT COLLATE "C" NOT NULL UNIQUE,
  domain TEXT COLLATE "C" NOT NULL REFERENCES domains(name),
  password_hash TEXT NOT NULL,
  quota_bytes BIGINT,
  used_bytes BIGINT NOT NULL DEFAULT 0,
  modseq BIGINT NOT NULL DEFAULT 0,
  pop3_policy TEXT NOT NULL DEFAULT 'delete',
  disabled BOOLEAN NOT NULL DEFAULT FALSE,
  created_at BIGINT NOT NULL,
  unlocked_at BIGINT,
  admin BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX accounts_domain ON accounts(domain);
CREATE TABLE aliases (
  address TEXT COLLATE "C" PRIMARY KEY,
  domain TEXT COLLATE "C" NOT NULL REFERENCES domains(name),
  targets TEXT[] NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX aliases_domain ON aliases(domain);
CREATE TABLE app_passwords (
  account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  seq BIGINT GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (account_id, id),
  UNIQUE (account_id, name)
);
CREATE TABLE mailboxes (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT COLLATE "C" NOT NULL,
  uid_validity BIGINT NOT NULL,
  uid_next BIGINT NOT NULL DEFAULT 1,
  highest_modseq BIGINT NOT NULL,
  first_recent_uid BIGINT NOT NULL DEFAULT 1,
  special_use TEXT,
  object_id TEXT NOT NULL UNIQUE,
  UNIQUE (account_id, name)
);
CREATE TABLE subscriptions (
  account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (account_id, name)
);
CREATE TABLE mailbox_messages (
  mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid BIGINT NOT NULL,
  message_id BIGINT NOT NULL,
  flags TEXT[] NOT NULL,
  modseq BIGINT NOT NULL,
  internal_date BIGINT NOT NULL,
  internal_zone INTEGER NOT NULL DEFAULT 0,
  save_date BIGINT NOT NULL,
  size BIGINT NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX mailbox_messages_message ON mailbox_messages(message_id);
CREATE INDEX mailbox_messages_modseq ON mailbox_messages(mailbox_id, modseq);
`,
  },
  {
    version: 2,
    // Stored messages: one row per distinct content (SHA-256), its bytes with it, the index
    // mime/ made at delivery, the search fields, RFC 8474 ids; expunged UIDs (VANISHED) and
    // every keyword a mailbox's messages ever had. body_text is the text for SEARCH BODY /
    // TEXT, case-folded by JavaScript (Unicode-aware, unlike lower() under the C locale).
    sql: `
CREATE TABLE messages (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  blob_hash TEXT COLLATE "C" NOT NULL UNIQUE,
  size BIGINT NOT NULL,
  data BYTEA NOT NULL,
  structure TEXT NOT NULL,
  envelope TEXT NOT NULL,
  s_from TEXT NOT NULL,
  s_to TEXT NOT NULL,
  s_cc TEXT NOT NULL,
  s_bcc TEXT NOT NULL,
  s_subject TEXT NOT NULL,
  s_message_id TEXT NOT NULL,
  sent_at BIGINT,
  s_references TEXT[],
  e_from TEXT NOT NULL,
  e_to TEXT NOT NULL,
  e_cc TEXT NOT NULL,
  e_bcc TEXT NOT NULL,
  email_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  preview TEXT,
  body_text TEXT NOT NULL,
  text_truncated BOOLEAN NOT NULL
);
CREATE INDEX messages_message_id ON messages(s_message_id, id) WHERE s_message_id <> '';
ALTER TABLE mailbox_messages ADD CONSTRAINT mailbox_messages_message_fk
  FOREIGN KEY (message_id) REFERENCES messages(id);
CREATE TABLE expunged (
  mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid BIGINT NOT NULL,
  modseq BIGINT NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
CREATE TABLE mailbox_keywords (
  mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  keyword TEXT NOT NULL
);
-- Keywords compare case-insensitively (RFC 3501 §2.3.2); flags are ASCII atoms.
CREATE UNIQUE INDEX mailbox_keywords_folded ON mailbox_keywords(mailbox_id, lower(keyword));
`,
  },
  {
    version: 3,
    // IMAP METADATA (RFC 5464) entries of an account's server view (mailbox_id NULL) or of
    // one of its mailboxes (gone with it); names are stored lower-case by the IMAP layer.
    sql: `
CREATE TABLE metadata (
  account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  mailbox_id BIGINT REFERENCES mailboxes(id) ON DELETE CASCADE,
  name TEXT COLLATE "C" NOT NULL,
  value BYTEA NOT NULL
);
CREATE UNIQUE INDEX metadata_entry ON metadata(account_id, COALESCE(mailbox_id, 0), name);
CREATE INDEX metadata_mailbox ON metadata(mailbox_id);
`,
  },
  {
    version: 4,
    // The outbound queue: an item with its bytes, envelope and DSN parameters (RFC 3461), one
    // row per recipient. A claim leases an item to one node (lease_owner) until lease_until.
    sql: `
CREATE TABLE outbound (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  blob_hash TEXT COLLATE "C" NOT NULL,
  size BIGINT NOT NULL,
  data BYTEA NOT NULL,
  sender TEXT NOT NULL,
  envid TEXT,
  ret TEXT,
  account_id BIGINT,
  created_at BIGINT NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  held BOOLEAN NOT NULL DEFAULT FALSE,
  lease_until BIGINT NOT NULL DEFAULT 0,
  lease_owner TEXT,
  last_attempt_at BIGINT,
  delay_notified BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX outbound_due ON outbound(next_attempt_at, id) WHERE NOT held;
CREATE INDEX outbound_blob ON outbound(blob_hash);
CREATE TABLE outbound_recipients (
  outbound_id BIGINT NOT NULL REFERENCES outbound(id) ON DELETE CASCADE,
  address TEXT COLLATE "C" NOT NULL,
  notify TEXT,
  orcpt TEXT,
  state TEXT NOT NULL DEFAULT 'pending',
  last_error TEXT,
  status TEXT,
  remote_mta TEXT,
  updated_at BIGINT,
  PRIMARY KEY (outbound_id, address)
);
`,
  },
  {
    version: 5,
    // SEARCH BODY / TEXT (RFC 9051 §6.4.4) is a substring match: a trigram index (pg_trgm,
    // a trusted extension since PostgreSQL 13, in Debian's postgresql package) answers LIKE
    // '%needle%' of three characters or more without reading every text. A database where
    // the extension cannot be made keeps working without the index, only slower.
    sql: `
DO $$
BEGIN
  CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN insufficient_privilege OR undefined_file THEN
  RAISE NOTICE 'pg_trgm not available: SEARCH BODY reads every text';
END
$$;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    CREATE INDEX messages_body_trgm ON messages USING gin (body_text gin_trgm_ops);
  END IF;
END
$$;
`,
  },
  {
    version: 6,
    // Blobs (blobs.ts): the bytes of messages and queued items leave their rows for chunks of
    // 256 KiB, one copy per distinct content, so that a large message is written and read a
    // few chunks at a time. A blob goes when the last messages or outbound row with its hash
    // does: the trigger locks its row first, so a writer taking the blob on another node
    // (blobs.ts upserts that row) either commits before the check sees it, or waits and then
    // writes the blob anew.
    sql: `
CREATE TABLE blobs (hash TEXT COLLATE "C" PRIMARY KEY, size BIGINT NOT NULL);
CREATE TABLE blob_chunks (
  hash TEXT COLLATE "C" NOT NULL REFERENCES blobs(hash) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (hash, seq)
);
INSERT INTO blobs (hash, size)
  SELECT blob_hash, size FROM messages
  UNION SELECT blob_hash, size FROM outbound;
INSERT INTO blob_chunks (hash, seq, data)
  SELECT x.blob_hash, s, substring(x.data FROM s * 262144 + 1 FOR 262144)
  FROM (SELECT DISTINCT ON (blob_hash) blob_hash, data FROM (
          SELECT blob_hash, data FROM messages UNION ALL SELECT blob_hash, data FROM outbound) u
        ORDER BY blob_hash) x,
    generate_series(0, (length(x.data) + 262143) / 262144 - 1) s;
ALTER TABLE messages DROP COLUMN data;
ALTER TABLE outbound DROP COLUMN data;
CREATE FUNCTION letterbox_blob_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM blobs WHERE hash = OLD.blob_hash FOR UPDATE;
  DELETE FROM blobs b WHERE b.hash = OLD.blob_hash
    AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_hash = OLD.blob_hash)
    AND NOT EXISTS (SELECT 1 FROM outbound o WHERE o.blob_hash = OLD.blob_hash);
  RETURN NULL;
END
$$;
CREATE TRIGGER messages_blob_release AFTER DELETE ON messages
  FOR EACH ROW EXECUTE FUNCTION letterbox_blob_release();
CREATE TRIGGER outbound_blob_release AFTER DELETE ON outbound
  FOR EACH ROW EXECUTE FUNCTION letterbox_blob_release();
`,
  },
  {
    version: 7,
    // The login throttle every node shares (login-throttle.ts): one row per failed login and
    // key it counts against (a source, an account), and the (account, source) pairs trusted
    // after a login.
    sql: `
CREATE TABLE auth_failures (
  scope TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX auth_failures_key ON auth_failures(scope, key, at);
CREATE INDEX auth_failures_at ON auth_failures(at);
CREATE TABLE auth_trust (
  account TEXT COLLATE "C" NOT NULL,
  source TEXT COLLATE "C" NOT NULL,
  until BIGINT NOT NULL,
  strikes INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (account, source)
);
CREATE INDEX auth_trust_until ON auth_trust(until);
`,
  },
  {
    version: 8,
    // The trigram index of SEARCH BODY / TEXT covers each message's distinct words
    // (search-words.ts: the same trigrams as its whole text, a fraction of the work per
    // delivery); the rows already stored get theirs by the same rule. The bytes and the
    // text are compressed with lz4 where the server has it (cheaper than pglz per delivery).
    sql: `
ALTER TABLE messages ADD COLUMN body_words TEXT;
UPDATE messages SET body_words = ' ' || COALESCE((
    SELECT string_agg(DISTINCT w, ' ') FROM regexp_split_to_table(body_text, '${WORD_SEPARATORS_SQL}') w
    WHERE w <> ''), '') || ' ';
ALTER TABLE messages ALTER COLUMN body_words SET NOT NULL;
DROP INDEX IF EXISTS messages_body_trgm;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    CREATE INDEX messages_words_trgm ON messages USING gin (body_words gin_trgm_ops);
  END IF;
END
$$;
DO $$
BEGIN
  ALTER TABLE messages ALTER COLUMN body_text SET COMPRESSION lz4;
  ALTER TABLE blob_chunks ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR syntax_error THEN
  RAISE NOTICE 'lz4 not available: pglz stays';
END
$$;
`,
  },
  {
    version: 9,
    // EXPUNGE in one statement (messages.ts): the account's lock, the rows' removal in a
    // statement of its own after it (a VOLATILE function's statements each see every commit
    // made before they start), VANISHED's records, the usage, the collection of the stored
    // messages no row holds (a foreign-key violation undoes only that: collect.ts) and the
    // notices (events.ts, in parts of p_per_notice UIDs, all but the last marked 'm'). One
    // row: the account (NULL when there is no such mailbox), the mailbox's UIDVALIDITY, and
    // what went (no UIDs and no modseq when nothing did: then nothing changed).
    sql: `
CREATE FUNCTION letterbox_expunge(p_mailbox BIGINT, p_uids BIGINT[], p_only_deleted BOOLEAN,
  p_origin TEXT, p_seq BIGINT, p_per_notice INTEGER)
RETURNS TABLE (account BIGINT, validity BIGINT, at_modseq BIGINT, gone BIGINT[], hashes TEXT[])
LANGUAGE plpgsql AS $$
DECLARE
  v_ids BIGINT[];
  v_bytes BIGINT;
  v_n INTEGER;
  v_i INTEGER := 1;
BEGIN
  SELECT mb.account_id, mb.uid_validity INTO account, validity
    FROM mailboxes mb JOIN accounts a ON a.id = mb.account_id WHERE mb.id = p_mailbox
    FOR UPDATE OF a;
  IF account IS NULL THEN
    RETURN NEXT;
    RETURN;
  END IF;
  WITH d AS (
    DELETE FROM mailbox_messages mm USING messages m
    WHERE mm.mailbox_id = p_mailbox AND m.id = mm.message_id
      AND (p_uids IS NULL OR mm.uid = ANY(p_uids))
      AND (NOT p_only_deleted OR '\\Deleted' = ANY(mm.flags))
    RETURNING mm.uid, mm.message_id, mm.size, m.blob_hash)
  SELECT array_agg(d.uid ORDER BY d.uid), array_agg(d.message_id), array_agg(d.blob_hash),
      COALESCE(SUM(d.size), 0)
    INTO gone, v_ids, hashes, v_bytes FROM d;
  IF gone IS NULL THEN
    gone := '{}';
    hashes := '{}';
    RETURN NEXT;
    RETURN;
  END IF;
  UPDATE accounts a SET modseq = a.modseq + 1, used_bytes = a.used_bytes - v_bytes
    WHERE a.id = account RETURNING a.modseq INTO at_modseq;
  INSERT INTO expunged (mailbox_id, uid, modseq) SELECT p_mailbox, u, at_modseq FROM unnest(gone) u
    ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq;
  UPDATE mailboxes mb SET highest_modseq = GREATEST(mb.highest_modseq, at_modseq)
    WHERE mb.id = p_mailbox;
  BEGIN
    WITH free AS (SELECT id FROM messages WHERE id = ANY(v_ids) FOR UPDATE SKIP LOCKED)
    DELETE FROM messages m USING free WHERE m.id = free.id
      AND NOT EXISTS (SELECT 1 FROM mailbox_messages mm WHERE mm.message_id = m.id);
  EXCEPTION WHEN foreign_key_violation THEN
    NULL;
  END;
  v_n := cardinality(gone);
  WHILE v_i <= v_n LOOP
    PERFORM pg_notify('letterbox_changes', json_build_object('o', p_origin, 's', p_seq,
      'e', json_build_object('accountId', account, 'mailboxId', p_mailbox, 'modseq', at_modseq,
        'kind', 'expunge', 'uids', to_json(gone[v_i:v_i + p_per_notice - 1])),
      'm', CASE WHEN v_i + p_per_notice <= v_n THEN true END)::text);
    v_i := v_i + p_per_notice;
  END LOOP;
  RETURN NEXT;
END
$$;
`,
  },
  {
    version: 10,
    // COPY and MOVE in one statement (messages.ts), as EXPUNGE in migration 9: both mailboxes
    // and the account's lock (its quota and usage read under it; every writer of the
    // account's messages and a mailbox's deletion take it first, so neither mailbox nor its
    // rows change until commit), then in statements of their own the rows to copy (in UID
    // order), the account's next modseq, the target's UIDs (UIDNEXT moved by their count) and
    // rows, its keywords, for MOVE the source rows' removal recorded for VANISHED, and the
    // notices: the target's append, then MOVE's expunge, each in parts of p_per_notice UIDs,
    // all but the very last marked 'm'. One row: the outcome ('ok', 'missing' for no such
    // mailbox, 'cross-account', 'overquota': then nothing changed), the account, the
    // target's UIDVALIDITY, and what was copied (no UIDs and no modseq when nothing was).
    sql: `
CREATE FUNCTION letterbox_copy(p_from BIGINT, p_to BIGINT, p_uids BIGINT[], p_move BOOLEAN,
  p_save_date BIGINT, p_origin TEXT, p_seq BIGINT, p_per_notice INTEGER)
RETURNS TABLE (outcome TEXT, account BIGINT, validity BIGINT, at_modseq BIGINT,
  old_uids BIGINT[], new_uids BIGINT[], keywords TEXT[])
LANGUAGE plpgsql AS $$
DECLARE
  v_account BIGINT;
  v_to_account BIGINT;
  v_quota BIGINT;
  v_used BIGINT;
  v_bytes BIGINT;
  v_first BIGINT;
  v_n INTEGER;
  v_parts INTEGER;
  v_k INTEGER := 0;
  v_i INTEGER;
  v_event JSON;
BEGIN
  SELECT mb.account_id INTO v_account FROM mailboxes mb WHERE mb.id = p_from;
  SELECT mb.account_id INTO v_to_account FROM mailboxes mb WHERE mb.id = p_to;
  IF v_account IS NULL OR v_to_account IS NULL THEN
    outcome := 'missing';
    RETURN NEXT;
    RETURN;
  END IF;
  IF v_account <> v_to_account THEN
    outcome := 'cross-account';
    RETURN NEXT;
    RETURN;
  END IF;
  SELECT a.quota_bytes, a.used_bytes INTO v_quota, v_used FROM accounts a
    WHERE a.id = v_account FOR UPDATE;
  -- Under the lock: a mailbox deleted while it was waited for is gone now.
  SELECT mb.uid_validity INTO validity FROM mailboxes mb WHERE mb.id = p_to;
  IF validity IS NULL OR NOT EXISTS (SELECT 1 FROM mailboxes mb WHERE mb.id = p_from) THEN
    outcome := 'missing';
    validity := NULL;
    RETURN NEXT;
    RETURN;
  END IF;
  outcome := 'ok';
  account := v_account;
  SELECT array_agg(mm.uid ORDER BY mm.uid), COALESCE(sum(mm.size), 0)
    INTO old_uids, v_bytes
    FROM mailbox_messages mm WHERE mm.mailbox_id = p_from AND mm.uid = ANY(p_uids);
  IF old_uids IS NULL THEN
    old_uids := '{}';
    new_uids := '{}';
    keywords := '{}';
    RETURN NEXT;
    RETURN;
  END IF;
  -- A move within one account frees what it adds: only a copy needs room.
  IF NOT p_move AND v_quota IS NOT NULL AND v_used + v_bytes > v_quota THEN
    outcome := 'overquota';
    old_uids := '{}';
    RETURN NEXT;
    RETURN;
  END IF;
  v_n := cardinality(old_uids);
  UPDATE accounts a SET modseq = a.modseq + 1,
      used_bytes = a.used_bytes + CASE WHEN p_move THEN 0 ELSE v_bytes END
    WHERE a.id = v_account RETURNING a.modseq INTO at_modseq;
  UPDATE mailboxes mb SET uid_next = mb.uid_next + v_n,
      highest_modseq = GREATEST(mb.highest_modseq, at_modseq)
    WHERE mb.id = p_to RETURNING mb.uid_next - v_n INTO v_first;
  new_uids := ARRAY(SELECT generate_series(v_first, v_first + v_n - 1));
  INSERT INTO mailbox_messages (mailbox_id, uid, message_id, flags, modseq, internal_date,
      internal_zone, save_date, size)
    SELECT p_to, v_first + o.pos - 1, mm.message_id, mm.flags, at_modseq, mm.internal_date,
      mm.internal_zone, p_save_date, mm.size
    FROM unnest(old_uids) WITH ORDINALITY o(uid, pos)
      JOIN mailbox_messages mm ON mm.mailbox_id = p_from AND mm.uid = o.uid;
  -- The keywords among the rows' flags, in the order the rows (by UID) and their flags name
  -- them first.
  SELECT COALESCE(array_agg(d.kw ORDER BY d.pos, d.at), '{}') INTO keywords FROM (
    SELECT DISTINCT ON (f.kw) f.kw, o.pos, f.at
    FROM unnest(old_uids) WITH ORDINALITY o(uid, pos)
      JOIN mailbox_messages mm ON mm.mailbox_id = p_from AND mm.uid = o.uid,
      unnest(mm.flags) WITH ORDINALITY f(kw, at)
    WHERE left(f.kw, 1) <> '\\'
    ORDER BY f.kw, o.pos, f.at) d;
  INSERT INTO mailbox_keywords (mailbox_id, keyword) SELECT p_to, kw FROM unnest(keywords) kw
    ON CONFLICT DO NOTHING;
  IF p_move THEN
    DELETE FROM mailbox_messages mm WHERE mm.mailbox_id = p_from AND mm.uid = ANY(old_uids);
    INSERT INTO expunged (mailbox_id, uid, modseq)
      SELECT p_from, u, at_modseq FROM unnest(old_uids) u
      ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq;
    UPDATE mailboxes mb SET highest_modseq = GREATEST(mb.highest_modseq, at_modseq)
      WHERE mb.id = p_from;
  END IF;
  v_parts := ((v_n + p_per_notice - 1) / p_per_notice) * CASE WHEN p_move THEN 2 ELSE 1 END;
  v_i := 1;
  WHILE v_i <= v_n LOOP
    v_k := v_k + 1;
    v_event := json_build_object('accountId', v_account, 'mailboxId', p_to,
      'modseq', at_modseq, 'kind', 'append', 'uids', to_json(new_uids[v_i:v_i + p_per_notice - 1]));
    IF cardinality(keywords) > 0 THEN
      v_event := (v_event::jsonb || jsonb_build_object('keywords', keywords))::json;
    END IF;
    PERFORM pg_notify('letterbox_changes', json_build_object('o', p_origin, 's', p_seq,
      'e', v_event, 'm', CASE WHEN v_k < v_parts THEN true END)::text);
    v_i := v_i + p_per_notice;
  END LOOP;
  v_i := 1;
  WHILE p_move AND v_i <= v_n LOOP
    v_k := v_k + 1;
    PERFORM pg_notify('letterbox_changes', json_build_object('o', p_origin, 's', p_seq,
      'e', json_build_object('accountId', v_account, 'mailboxId', p_from, 'modseq', at_modseq,
        'kind', 'expunge', 'uids', to_json(old_uids[v_i:v_i + p_per_notice - 1])),
      'm', CASE WHEN v_k < v_parts THEN true END)::text);
    v_i := v_i + p_per_notice;
  END LOOP;
  RETURN NEXT;
END
$$;
`,
  },
  {
    version: 11,
    // EXPUNGE without reading every row of the mailbox: a partial index of the \Deleted rows
    // (a row gets its entry when a STORE sets the flag, whose update writes new index entries
    // anyway: it changes the modseq, which mailbox_messages_modseq indexes), and migration
    // 9's function finding the UIDs to remove through it (the same answers: one row read for
    // one \Deleted message, where it read all the mailbox's, 500 in the IMAP mix, a million
    // in the largest mailboxes).
    sql: `
CREATE INDEX mailbox_messages_deleted ON mailbox_messages(mailbox_id, uid)
  WHERE '\\Deleted' = ANY(flags);
CREATE OR REPLACE FUNCTION letterbox_expunge(p_mailbox BIGINT, p_uids BIGINT[], p_only_deleted BOOLEAN,
  p_origin TEXT, p_seq BIGINT, p_per_notice INTEGER)
RETURNS TABLE (account BIGINT, validity BIGINT, at_modseq BIGINT, gone BIGINT[], hashes TEXT[])
LANGUAGE plpgsql AS $$
DECLARE
  v_uids BIGINT[];
  v_ids BIGINT[];
  v_bytes BIGINT;
  v_n INTEGER;
  v_i INTEGER := 1;
BEGIN
  SELECT mb.account_id, mb.uid_validity INTO account, validity
    FROM mailboxes mb JOIN accounts a ON a.id = mb.account_id WHERE mb.id = p_mailbox
    FOR UPDATE OF a;
  IF account IS NULL THEN
    RETURN NEXT;
    RETURN;
  END IF;
  -- The UIDs first: the \\Deleted ones from the partial index (its predicate written as
  -- the index's, so that every plan of this statement may use it).
  IF p_only_deleted THEN
    SELECT array_agg(mm.uid) INTO v_uids FROM mailbox_messages mm
      WHERE mm.mailbox_id = p_mailbox AND '\\Deleted' = ANY(mm.flags)
        AND (p_uids IS NULL OR mm.uid = ANY(p_uids));
  ELSIF p_uids IS NULL THEN
    SELECT array_agg(mm.uid) INTO v_uids FROM mailbox_messages mm
      WHERE mm.mailbox_id = p_mailbox;
  ELSE
    v_uids := p_uids;
  END IF;
  WITH d AS (
    DELETE FROM mailbox_messages mm USING messages m
    WHERE mm.mailbox_id = p_mailbox AND mm.uid = ANY(v_uids) AND m.id = mm.message_id
      AND (NOT p_only_deleted OR '\\Deleted' = ANY(mm.flags))
    RETURNING mm.uid, mm.message_id, mm.size, m.blob_hash)
  SELECT array_agg(d.uid ORDER BY d.uid), array_agg(d.message_id), array_agg(d.blob_hash),
      COALESCE(SUM(d.size), 0)
    INTO gone, v_ids, hashes, v_bytes FROM d;
  IF gone IS NULL THEN
    gone := '{}';
    hashes := '{}';
    RETURN NEXT;
    RETURN;
  END IF;
  UPDATE accounts a SET modseq = a.modseq + 1, used_bytes = a.used_bytes - v_bytes
    WHERE a.id = account RETURNING a.modseq INTO at_modseq;
  INSERT INTO expunged (mailbox_id, uid, modseq) SELECT p_mailbox, u, at_modseq FROM unnest(gone) u
    ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq;
  UPDATE mailboxes mb SET highest_modseq = GREATEST(mb.highest_modseq, at_modseq)
    WHERE mb.id = p_mailbox;
  BEGIN
    WITH free AS (SELECT id FROM messages WHERE id = ANY(v_ids) FOR UPDATE SKIP LOCKED)
    DELETE FROM messages m USING free WHERE m.id = free.id
      AND NOT EXISTS (SELECT 1 FROM mailbox_messages mm WHERE mm.message_id = m.id);
  EXCEPTION WHEN foreign_key_violation THEN
    NULL;
  END;
  v_n := cardinality(gone);
  WHILE v_i <= v_n LOOP
    PERFORM pg_notify('letterbox_changes', json_build_object('o', p_origin, 's', p_seq,
      'e', json_build_object('accountId', account, 'mailboxId', p_mailbox, 'modseq', at_modseq,
        'kind', 'expunge', 'uids', to_json(gone[v_i:v_i + p_per_notice - 1])),
      'm', CASE WHEN v_i + p_per_notice <= v_n THEN true END)::text);
    v_i := v_i + p_per_notice;
  END LOOP;
  RETURN NEXT;
END
$$;

`,
  },
  {
    version: 12,
    // The statements of EXPUNGE's and COPY's functions keep one plan per connection: with
    // their array parameters PostgreSQL found a plan made for the values cheaper than the one
    // kept, and planned two of EXPUNGE's statements again at every call (0.17 and 0.10 ms of
    // its 0.9 in the IMAP mix, bench/scale --pg-statements). Their plans read by index
    // whatever the values: the mailbox's and the stored messages' keys, the \Deleted rows'
    // partial index.
    sql: `
ALTER FUNCTION letterbox_expunge(BIGINT, BIGINT[], BOOLEAN, TEXT, BIGINT, INTEGER)
  SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION letterbox_copy(BIGINT, BIGINT, BIGINT[], BOOLEAN, BIGINT, TEXT, BIGINT, INTEGER)
  SET plan_cache_mode = force_generic_plan;
`,
  },
  {
    version: 13,
    // STORE's statement as a function (messages.ts setFlagsOnce), so that its plans are kept
    // (as migration 12's): the same statement planned again at every call cost 0.19 ms for
    // 0.13 of work. The account's next modseq under its row lock, then (a statement of its
    // own, which sees every commit made before it) each row's new flags (JSON, p_flags) and
    // modseq where it still has the modseq it was read with (p_was); should one not, the
    // whole is undone with SQLSTATE 22012 (the caller reads again). Then HIGHESTMODSEQ, the
    // keywords kept, and the notice. No row when there is no such account.
    sql: `
CREATE FUNCTION letterbox_set_flags(p_account BIGINT, p_mailbox BIGINT, p_uids BIGINT[],
  p_was BIGINT[], p_flags TEXT[], p_keywords TEXT[], p_origin TEXT, p_seq BIGINT)
RETURNS TABLE (at_modseq BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_n INTEGER;
  v_event JSONB;
BEGIN
  UPDATE accounts a SET modseq = a.modseq + 1 WHERE a.id = p_account
    RETURNING a.modseq INTO at_modseq;
  IF at_modseq IS NULL THEN
    RETURN;
  END IF;
  -- One row (most STOREs) by its key; more with one statement for them all (a plan kept for
  -- any number of rows does not look each up by its key).
  IF cardinality(p_uids) = 1 THEN
    UPDATE mailbox_messages mm
      SET flags = ARRAY(SELECT json_array_elements_text(p_flags[1]::json)), modseq = at_modseq
      WHERE mm.mailbox_id = p_mailbox AND mm.uid = p_uids[1] AND mm.modseq = p_was[1];
  ELSE
    UPDATE mailbox_messages mm
      SET flags = ARRAY(SELECT json_array_elements_text(x.f::json)), modseq = at_modseq
      FROM unnest(p_uids, p_was, p_flags) AS x(uid, was, f)
      WHERE mm.mailbox_id = p_mailbox AND mm.uid = x.uid AND mm.modseq = x.was;
  END IF;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  IF v_n <> cardinality(p_uids) THEN
    RAISE EXCEPTION 'a message changed since it was read' USING ERRCODE = '22012';
  END IF;
  UPDATE mailboxes mb SET highest_modseq = GREATEST(mb.highest_modseq, at_modseq)
    WHERE mb.id = p_mailbox;
  INSERT INTO mailbox_keywords (mailbox_id, keyword) SELECT p_mailbox, kw FROM unnest(p_keywords) kw
    ON CONFLICT DO NOTHING;
  v_event := jsonb_build_object('accountId', p_account, 'mailboxId', p_mailbox,
    'modseq', at_modseq, 'kind', 'flags', 'uids', to_jsonb(p_uids));
  IF cardinality(p_keywords) > 0 THEN
    v_event := v_event || jsonb_build_object('keywords', p_keywords);
  END IF;
  PERFORM pg_notify('letterbox_changes',
    json_build_object('o', p_origin, 's', p_seq, 'e', v_event)::text);
  RETURN NEXT;
END
$$;
`,
  },
  {
    version: 14,
    // The rows a STORE reads when the node's list of the mailbox cannot answer it
    // (messages.ts setFlagsOnce: the mailbox, and its rows of those UIDs by the primary key,
    // in UID order; one row of nulls but for the mailbox's when it has none of them) as a
    // function whose plan is kept, as migration 12's: PostgreSQL planned the statement again
    // at every call (auto plan_cache_mode: the plan made for the array's values looked
    // cheaper than the one kept; 0.17 ms of planning for 0.03 of work, bench/scale
    // --pg-statements). The kept plan reads by the primary keys whatever the values.
    sql: `
CREATE FUNCTION letterbox_flag_rows(p_mailbox BIGINT, p_uids BIGINT[])
RETURNS TABLE (account_id BIGINT, uid_validity BIGINT, uid BIGINT, message_id BIGINT,
  flags TEXT[], modseq BIGINT, size BIGINT, internal_date BIGINT, internal_zone INTEGER,
  blob_hash TEXT)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  RETURN QUERY SELECT mb.account_id, mb.uid_validity, r.uid, r.message_id, r.flags, r.modseq,
      r.size, r.internal_date, r.internal_zone, r.blob_hash::text
    FROM mailboxes mb LEFT JOIN LATERAL (
      SELECT mm.uid, mm.message_id, mm.flags, mm.modseq, mm.size, mm.internal_date,
        mm.internal_zone, m.blob_hash
      FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id
      WHERE mm.mailbox_id = mb.id AND mm.uid = ANY(p_uids)) r ON true
    WHERE mb.id = p_mailbox ORDER BY r.uid;
END
$$;
`,
  },
  {
    version: 15,
    // EXPUNGE no longer collects the stored messages it lets go of: the node that ran it
    // does, by their blob hashes (the `hashes` it returns), once it is quiet
    // (quiet-collect.ts), as the SQLite store does (sqlite/data-purge.ts). The collection
    // (a messages row with its text, its blob and chunks through the trigger) was a third of
    // the statement's time in the IMAP mix. Migration 11's function otherwise, with
    // migration 12's setting (CREATE OR REPLACE drops what ALTER set).
    sql: `
CREATE OR REPLACE FUNCTION letterbox_expunge(p_mailbox BIGINT, p_uids BIGINT[], p_only_deleted BOOLEAN,
  p_origin TEXT, p_seq BIGINT, p_per_notice INTEGER)
RETURNS TABLE (account BIGINT, validity BIGINT, at_modseq BIGINT, gone BIGINT[], hashes TEXT[])
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_uids BIGINT[];
  v_bytes BIGINT;
  v_n INTEGER;
  v_i INTEGER := 1;
BEGIN
  SELECT mb.account_id, mb.uid_validity INTO account, validity
    FROM mailboxes mb JOIN accounts a ON a.id = mb.account_id WHERE mb.id = p_mailbox
    FOR UPDATE OF a;
  IF account IS NULL THEN
    RETURN NEXT;
    RETURN;
  END IF;
  IF p_only_deleted THEN
    SELECT array_agg(mm.uid) INTO v_uids FROM mailbox_messages mm
      WHERE mm.mailbox_id = p_mailbox AND '\\Deleted' = ANY(mm.flags)
        AND (p_uids IS NULL OR mm.uid = ANY(p_uids));
  ELSIF p_uids IS NULL THEN
    SELECT array_agg(mm.uid) INTO v_uids FROM mailbox_messages mm
      WHERE mm.mailbox_id = p_mailbox;
  ELSE
    v_uids := p_uids;
  END IF;
  WITH d AS (
    DELETE FROM mailbox_messages mm USING messages m
    WHERE mm.mailbox_id = p_mailbox AND mm.uid = ANY(v_uids) AND m.id = mm.message_id
      AND (NOT p_only_deleted OR '\\Deleted' = ANY(mm.flags))
    RETURNING mm.uid, mm.size, m.blob_hash)
  SELECT array_agg(d.uid ORDER BY d.uid), array_agg(d.blob_hash), COALESCE(SUM(d.size), 0)
    INTO gone, hashes, v_bytes FROM d;
  IF gone IS NULL THEN
    gone := '{}';
    hashes := '{}';
    RETURN NEXT;
    RETURN;
  END IF;
  UPDATE accounts a SET modseq = a.modseq + 1, used_bytes = a.used_bytes - v_bytes
    WHERE a.id = account RETURNING a.modseq INTO at_modseq;
  INSERT INTO expunged (mailbox_id, uid, modseq) SELECT p_mailbox, u, at_modseq FROM unnest(gone) u
    ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq;
  UPDATE mailboxes mb SET highest_modseq = GREATEST(mb.highest_modseq, at_modseq)
    WHERE mb.id = p_mailbox;
  v_n := cardinality(gone);
  WHILE v_i <= v_n LOOP
    PERFORM pg_notify('letterbox_changes', json_build_object('o', p_origin, 's', p_seq,
      'e', json_build_object('accountId', account, 'mailboxId', p_mailbox, 'modseq', at_modseq,
        'kind', 'expunge', 'uids', to_json(gone[v_i:v_i + p_per_notice - 1])),
      'm', CASE WHEN v_i + p_per_notice <= v_n THEN true END)::text);
    v_i := v_i + p_per_notice;
  END LOOP;
  RETURN NEXT;
END
$$;
`,
  },
  {
    version: 16,
    // The accounts' lock of a transaction of append groups (append-batch.ts LOCK_ACCOUNTS)
    // as a function that keeps its plan: as a statement with its array of mailbox ids,
    // PostgreSQL planned it again at every call (auto plan_cache_mode: the plan made for the
    // array's values looked cheaper than the kept one), 130-200 us of its CPU each time, at
    // 0.3 calls per delivery with three nodes delivering to one account.
    sql: `
CREATE FUNCTION letterbox_lock_accounts(p_mailboxes BIGINT[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  PERFORM a.id FROM accounts a
    WHERE a.id IN (SELECT mb.account_id FROM mailboxes mb WHERE mb.id = ANY(p_mailboxes))
    ORDER BY a.id FOR NO KEY UPDATE OF a;
END
$$;
`,
  },
  {
    version: 17,
    // full_text_index = "on-search" (text-catch-up.ts): a stored message's search text may be
    // not made yet, body_text and body_words both NULL ("not indexed yet", apart from a
    // message with no text: '' and '  '), made by the first SEARCH BODY / TEXT of a mailbox
    // holding it. text_marks: per mailbox, the UID up to which every row's message has its
    // text, so that a search looks only at the rows past it (the primary key's range), not at
    // the whole mailbox. Every row stored so far has its text: each mailbox's mark is its
    // last UID.
    sql: `
ALTER TABLE messages ALTER COLUMN body_text DROP NOT NULL;
ALTER TABLE messages ALTER COLUMN body_words DROP NOT NULL;
ALTER TABLE messages ADD CONSTRAINT messages_text_whole
  CHECK ((body_text IS NULL) = (body_words IS NULL));
CREATE TABLE text_marks (
  mailbox_id BIGINT PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid BIGINT NOT NULL
);
INSERT INTO text_marks (mailbox_id, uid) SELECT id, uid_next - 1 FROM mailboxes WHERE uid_next > 1;
`,
  },
  {
    version: 18,
    // One-row STOREs of several sessions in one statement and commit (messages.ts
    // FlagGroups): those that come while the node's last one is out go together. Item k: the
    // account p_accounts[k] is locked (items in ascending account order, as every other
    // transaction takes accounts' locks), its row checked under the lock to still have the
    // modseq it was read with (p_was[k]); a row that does not (changed or expunged since) is
    // left as it is, at_modseq -1 (the caller reads again), the others still written: no
    // exception, which would undo them. Otherwise as migration 13's function: the account's
    // next modseq, the row's flags (JSON) and modseq, HIGHESTMODSEQ, the keywords kept (JSON
    // array p_keywords[k]) and the notice (sequence p_seqs[k]). at_modseq NULL: no account.
    sql: `
CREATE FUNCTION letterbox_set_flags_group(p_accounts BIGINT[], p_mailboxes BIGINT[],
  p_uids BIGINT[], p_was BIGINT[], p_flags TEXT[], p_keywords TEXT[], p_origin TEXT,
  p_seqs BIGINT[])
RETURNS TABLE (k INTEGER, at_modseq BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_event JSONB;
BEGIN
  FOR i IN 1 .. cardinality(p_accounts) LOOP
    k := i;
    at_modseq := NULL;
    PERFORM 1 FROM accounts a WHERE a.id = p_accounts[i] FOR NO KEY UPDATE;
    IF NOT FOUND THEN
      RETURN NEXT;
      CONTINUE;
    END IF;
    PERFORM 1 FROM mailbox_messages mm
      WHERE mm.mailbox_id = p_mailboxes[i] AND mm.uid = p_uids[i] AND mm.modseq = p_was[i];
    IF NOT FOUND THEN
      at_modseq := -1;
      RETURN NEXT;
      CONTINUE;
    END IF;
    UPDATE accounts a SET modseq = a.modseq + 1 WHERE a.id = p_accounts[i]
      RETURNING a.modseq INTO at_modseq;
    UPDATE mailbox_messages mm
      SET flags = ARRAY(SELECT json_array_elements_text(p_flags[i]::json)), modseq = at_modseq
      WHERE mm.mailbox_id = p_mailboxes[i] AND mm.uid = p_uids[i];
    UPDATE mailboxes mb SET highest_modseq = GREATEST(mb.highest_modseq, at_modseq)
      WHERE mb.id = p_mailboxes[i];
    v_event := jsonb_build_object('accountId', p_accounts[i], 'mailboxId', p_mailboxes[i],
      'modseq', at_modseq, 'kind', 'flags', 'uids', jsonb_build_array(p_uids[i]));
    IF p_keywords[i] <> '[]' THEN
      INSERT INTO mailbox_keywords (mailbox_id, keyword)
        SELECT p_mailboxes[i], kw FROM json_array_elements_text(p_keywords[i]::json) kw
        ON CONFLICT DO NOTHING;
      v_event := v_event || jsonb_build_object('keywords', p_keywords[i]::jsonb);
    END IF;
    PERFORM pg_notify('letterbox_changes',
      json_build_object('o', p_origin, 's', p_seqs[i], 'e', v_event)::text);
    RETURN NEXT;
  END LOOP;
END
$$;
`,
  },
  {
    version: 19,
    // A channel per account (events.ts): a message's changes (append, flags, expunge) go on
    // its account's channel, `letterbox_a` and the account's id, which a node listens to only
    // while it has a use for the account; the rest stays on letterbox_changes. The functions
    // that send notices themselves (migrations 10, 13, 15, 18: copy and move, STORE, EXPUNGE,
    // the STORE groups) are made again with each pg_notify on letterbox_changes sending
    // through letterbox_notify, which picks the channel from the notice's event (all of theirs
    // are message changes).
    sql: `
CREATE FUNCTION letterbox_notify(p_notice TEXT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_event json := p_notice::json -> 'e';
BEGIN
  IF v_event ->> 'kind' IN ('append', 'flags', 'expunge') THEN
    PERFORM pg_notify('letterbox_a' || (v_event ->> 'accountId'), p_notice);
  ELSE
    PERFORM pg_notify('letterbox_changes', p_notice);
  END IF;
END
$$;
DO $$
DECLARE
  f record;
BEGIN
  FOR f IN SELECT p.oid FROM pg_proc p
      WHERE p.pronamespace = current_schema()::regnamespace
        AND p.prosrc LIKE '%pg_notify(''letterbox_changes'',%' LOOP
    EXECUTE replace(pg_get_functiondef(f.oid), 'pg_notify(''letterbox_changes'',',
      'letterbox_notify(');
  END LOOP;
END
$$;
`,
  },
  {
    version: 20,
    // RCPT's answers kept by each node (recipient-cache.ts) are dropped when the directory
    // changes: every statement that writes domains or aliases, or an account's row other than
    // its usage and modseq (which every append moves: those fire nothing), sends one notice on
    // letterbox_directory at its commit, whoever wrote it (a node, a `letterbox` command, a
    // migration). Its payload is empty: PostgreSQL folds the notices of one transaction.
    sql: `
CREATE FUNCTION letterbox_directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('letterbox_directory', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER domains_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON domains
  FOR EACH STATEMENT EXECUTE FUNCTION letterbox_directory_changed();
CREATE TRIGGER aliases_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON aliases
  FOR EACH STATEMENT EXECUTE FUNCTION letterbox_directory_changed();
CREATE TRIGGER accounts_added_or_removed AFTER INSERT OR DELETE OR TRUNCATE ON accounts
  FOR EACH STATEMENT EXECUTE FUNCTION letterbox_directory_changed();
CREATE TRIGGER accounts_changed AFTER UPDATE OF id, address, domain, password_hash,
  quota_bytes, pop3_policy, disabled, created_at, unlocked_at, admin ON accounts
  FOR EACH STATEMENT EXECUTE FUNCTION letterbox_directory_changed();
`,
  },
  {
    version: 21,
    // The account's listening lease (events.ts): until when (PostgreSQL's clock) some node
    // has promised to hear the account's channel. The appends read it in the update of the
    // account's row they make anyway and send no notice while it has run out (issue 17: every
    // notifying commit wakes every listening backend of the database). Not a directory
    // change: migration 20's trigger names its columns, and this is not one of them.
    sql: `ALTER TABLE accounts ADD COLUMN listened_until TIMESTAMPTZ;`,
  },
  {
    version: 22,
    // The lease's holder (events.ts): the node (its store's origin) that took the account's
    // lease while no other held one (`listened_by`), until when its own lease runs
    // (`held_until`), and until when another node's does (`others_until`). A write from the
    // holder while no other node's lease runs sends no notice: only the holder listens, and it
    // emits its own events itself, in modseq order. Not a directory change (migration 20's
    // trigger names its columns).
    sql: `ALTER TABLE accounts ADD COLUMN listened_by TEXT,
  ADD COLUMN held_until TIMESTAMPTZ, ADD COLUMN others_until TIMESTAMPTZ;`,
  },
];

/** The latest schema version this code knows. */
export const PG_SCHEMA_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]!.version;

async function applied(q: Queryable): Promise<Set<number>> {
  const r = await q.query<{ version: number }>({ text: 'SELECT version FROM schema_migrations' });
  return new Set(r.rows.map((x) => x.version));
}

/**
 * A statement that may rightly take long (a migration's, or the wait for another node's
 * migration): not cut by the node's statement timeout (PgOptions.queryTimeoutMs).
 */
function unhurried(config: pg.QueryConfig): pg.QueryConfig {
  return { ...config, query_timeout: 2_147_483_647 } as pg.QueryConfig;
}

/** Applies the migrations the database lacks, one transaction each, under the lock. */
export async function migrate(db: PgDb): Promise<void> {
  for (;;) {
    const more = await db.tx(async (q) => {
      await q.query(
        unhurried({ text: 'SELECT pg_advisory_xact_lock($1)', values: [MIGRATION_LOCK] }),
      );
      await q.query({
        text: `CREATE TABLE IF NOT EXISTS schema_migrations (
          version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`,
      });
      const done = await applied(q);
      const newest = Math.max(0, ...done);
      if (newest > PG_SCHEMA_VERSION) {
        throw new Error(
          `the database's schema (version ${newest}) is newer than this Letterbox knows (${PG_SCHEMA_VERSION})`,
        );
      }
      const m = PG_MIGRATIONS.find((x) => !done.has(x.version));
      if (!m) return false;
      await q.query(unhurried({ text: m.sql }));
      await q.query({
        text: 'INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)',
        values: [m.version, Date.now()],
      });
      return true;
    });
    if (!more) return;
  }
}
