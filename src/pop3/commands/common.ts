// Commands valid in both AUTHORIZATION and TRANSACTION: CAPA (RFC 2449 §5) and QUIT
// (RFC 1939 §4 and §6, the only way into the UPDATE state).
import { supportedMechanisms } from '../../auth/sasl.js';
import { isStoreError } from '../../store/errors.js';
import type { Pop3Session } from '../session.js';
import { TERMINATOR } from '../wire.js';
import type { CommandSpec } from './types.js';

/** RFC 2449 §6 capabilities, as they stand for this session right now. */
export function capabilities(s: Pop3Session): string[] {
  const caps = ['TOP', 'UIDL'];
  // Offered only where a password may be sent; before STLS a client learns to upgrade first.
  if (s.state.kind === 'authorization' && s.plaintextAllowed) {
    caps.push('USER', `SASL ${supportedMechanisms().join(' ')}`);
  }
  caps.push('RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING');
  // RFC 2595 §4: STLS only in AUTHORIZATION, and not again once TLS is on.
  if (s.state.kind === 'authorization' && s.canStartTls) caps.push('STLS');
  // RFC 2449 §6.7: the server never removes messages on its own; DELE + QUIT decides.
  caps.push('EXPIRE NEVER', 'IMPLEMENTATION Letterbox');
  return caps;
}

export const CAPA: CommandSpec = {
  states: ['authorization', 'transaction'],
  async run(s) {
    s.ok('Capability list follows');
    for (const c of capabilities(s)) await s.send(Buffer.from(`${c}\r\n`));
    await s.send(TERMINATOR);
  },
};

export const QUIT: CommandSpec = {
  states: ['authorization', 'transaction'],
  async run(s) {
    s.endWithQuit();
    if (s.state.kind === 'authorization') {
      s.ok('Goodbye');
      return;
    }
    const { account, drop, release } = s.transaction();
    const seen = s.takeSeen();
    s.state = { kind: 'update' };
    try {
      const { policy, removed } = await s.opts.backend.update({
        accountId: account.id,
        mailboxId: drop.mailboxId,
        deletedUids: drop.deletedUids(),
        seen,
      });
      s.log.info({ policy, deleted: removed }, 'POP3 update done');
      s.ok(`Goodbye, ${drop.stat().count} messages left`);
    } catch (err) {
      // RFC 1939 §6: "-ERR some deleted messages not removed". The store call is one
      // transaction, so none were. A full account cannot take the copy into Trash: that
      // will not pass by retrying at once (RFC 3206 §4 SYS/PERM).
      const overQuota = isStoreError(err, 'OVERQUOTA');
      if (overQuota) s.log.info('POP3 update refused: over quota');
      else s.log.error({ err }, 'POP3 update failed');
      s.err(
        overQuota
          ? 'Over quota: some deleted messages not removed'
          : 'Some deleted messages not removed',
        overQuota ? 'SYS/PERM' : 'SYS/TEMP',
      );
    } finally {
      release();
    }
  },
};
