// What a POP3 session needs from the rest of the server, as one narrow interface: check a
// login, lock and snapshot a maildrop, read a message's bytes, mark \Seen, carry out the
// UPDATE. A session in the main process uses the store directly (localBackend); one in a
// POP3 worker process (workers/) reads message bytes itself and asks the main process for
// the rest, so that locks, the auth throttle and every store write stay in one place.
import type { AuthRequest, AuthResult } from '../auth/authenticator.js';
import type { ServerContext } from '../server.js';
import type { Pop3Policy } from '../store/types.js';
import { applyUpdate, type MaildropSnapshot, snapshotMaildrop } from './maildrop.js';

export type OpenResult =
  | { ok: true; snapshot: MaildropSnapshot; release: () => void }
  | { ok: false; reason: 'in-use' };

/** RFC 1939 §6: the deletions and pending \Seen marks a QUIT carries out. */
export interface UpdateRequest {
  accountId: number;
  mailboxId: number;
  deletedUids: readonly number[];
  seen: readonly number[];
}

export interface Pop3Backend {
  authenticate(req: AuthRequest): Promise<AuthResult>;
  /** RFC 1939 §8: lock the account's maildrop, then snapshot its INBOX. */
  open(accountId: number): Promise<OpenResult>;
  /** A message's stored bytes; StoreError NOT_FOUND once it is gone. */
  readMessage(blobHash: string, size: number): Promise<Buffer>;
  markSeen(mailboxId: number, uids: readonly number[]): Promise<void>;
  update(req: UpdateRequest): Promise<{ policy: Pop3Policy; removed: number }>;
}

/** The backend of sessions served by the main process itself. */
export function localBackend(ctx: ServerContext): Pop3Backend {
  return {
    authenticate: (req) => ctx.auth.authenticate(req),
    async open(accountId) {
      // RFC 1939 §8, held by the store: over PostgreSQL, for every node.
      const release = await ctx.store.lockMaildrop(accountId);
      if (!release) return { ok: false, reason: 'in-use' };
      try {
        return { ok: true, snapshot: await snapshotMaildrop(ctx.store, accountId), release };
      } catch (err) {
        release();
        throw err;
      }
    },
    readMessage: (hash, size) => ctx.store.readMessage(hash, size),
    async markSeen(mailboxId, uids) {
      await ctx.store.setFlags(mailboxId, [...uids], 'add', ['\\Seen']);
    },
    update: (req) => applyUpdate(ctx.store, req),
  };
}
