// GETQUOTA, GETQUOTAROOT, SETQUOTA (RFC 9208): one quota root "" per account with the
// STORAGE resource, in units of 1024 octets (RFC 9208 §5.1).
import { no, ok } from '../responses.js';
import type { ImapSession } from '../session.js';
import { AUTHED, command } from './types.js';
import { getMailboxOrFail, mailboxAstring, requireAccount } from './util.js';

async function quotaLine(s: ImapSession): Promise<string> {
  const account = await s.ctx.store.getAccountById(requireAccount(s).id);
  if (!account || account.quotaBytes === null) return 'QUOTA "" ()';
  const used = Math.ceil(account.usedBytes / 1024);
  const limit = Math.floor(account.quotaBytes / 1024);
  return `QUOTA "" (STORAGE ${used} ${limit})`;
}

export const GETQUOTAROOT = command({
  name: 'GETQUOTAROOT',
  states: AUTHED,
  parse(c) {
    c.space();
    const m = c.mailbox();
    c.end();
    return m;
  },
  async run(s, name) {
    const mb = await getMailboxOrFail(s, name);
    s.untagged(
      Buffer.concat([Buffer.from('QUOTAROOT '), mailboxAstring(s, mb.name), Buffer.from(' ""')]),
    );
    s.untagged(await quotaLine(s));
    return ok('GETQUOTAROOT completed');
  },
});

export const GETQUOTA = command({
  name: 'GETQUOTA',
  states: AUTHED,
  parse(c) {
    c.space();
    const root = c.astring().toString('utf8');
    c.end();
    return root;
  },
  async run(s, root) {
    if (root !== '') throw no('NONEXISTENT', 'No such quota root');
    s.untagged(await quotaLine(s));
    return ok('GETQUOTA completed');
  },
});

// RFC 9208 §4.1.3: a server may refuse SETQUOTA; quotas are set by the administrator.
export const SETQUOTA = command({
  name: 'SETQUOTA',
  states: AUTHED,
  parse(c) {
    c.space();
    c.astring();
    c.space();
    c.list((l) => {
      l.atom();
      l.space();
      return l.number64();
    });
    c.end();
    return null;
  },
  async run() {
    throw no('NOPERM', 'Quotas are set by the administrator');
  },
});
