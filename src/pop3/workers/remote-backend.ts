// The Pop3Backend of a session in a worker process: message bytes are read here, from the
// store's files, on this process's CPU (the work RETR is made of); logins, maildrop locks,
// \Seen marks and the UPDATE are calls to the main process, which owns the auth throttle, the
// lock table and every store write (and so the change events IMAP sessions get).
import type { MessageReader } from '../../store/types.js';
import type { Pop3Backend } from '../backend.js';
import type { RpcClient } from './rpc.js';

export function remoteBackend(
  rpc: RpcClient,
  reader: MessageReader,
  release: (lockId: number) => void,
): Pop3Backend {
  return {
    authenticate: (req) => rpc.call('authenticate', req),
    async open(accountId) {
      const r = await rpc.call('open', { accountId });
      if (!r.ok) return { ok: false, reason: 'in-use' };
      let released = false;
      const done = () => {
        if (released) return;
        released = true;
        release(r.lockId);
      };
      return { ok: true, snapshot: r.snapshot, release: done };
    },
    readMessage: (hash, size) => reader.read(hash, size),
    async markSeen(mailboxId, uids) {
      await rpc.call('markSeen', { mailboxId, uids });
    },
    update: (req) => rpc.call('update', req),
  };
}
