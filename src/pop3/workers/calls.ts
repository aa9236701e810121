// What the main process answers for its POP3 workers, one handler per call (protocol.ts):
// each is the in-process backend's own operation, so a session behaves the same wherever it
// runs. A maildrop lock taken for a worker is recorded with it and released when the worker
// says so, or when it dies.
import type { Pop3Backend } from '../backend.js';
import type { Calls, Method } from './protocol.js';

export interface CallContext {
  backend: Pop3Backend;
  /** The worker's locks, by id. */
  locks: Map<number, () => void>;
  lockId: () => number;
  /** False once the worker has exited. */
  alive: () => boolean;
}

type Handler<M extends Method> = (
  args: Calls[M]['args'],
  ctx: CallContext,
) => Promise<Calls[M]['result']>;

export const CALLS: { [M in Method]: Handler<M> } = {
  authenticate: (req, ctx) => ctx.backend.authenticate(req),
  async open({ accountId }, ctx) {
    const r = await ctx.backend.open(accountId);
    if (!r.ok) return { ok: false };
    // The worker died while the snapshot was taken: nobody will ever release this lock.
    if (!ctx.alive()) {
      r.release();
      return { ok: false };
    }
    const lockId = ctx.lockId();
    ctx.locks.set(lockId, r.release);
    return { ok: true, snapshot: r.snapshot, lockId };
  },
  async markSeen({ mailboxId, uids }, ctx) {
    await ctx.backend.markSeen(mailboxId, uids);
    return null;
  },
  update: (req, ctx) => ctx.backend.update(req),
};
