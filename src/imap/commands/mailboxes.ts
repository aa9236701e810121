// CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 9051 §6.3.4-8; RFC 6154 §5.3 CREATE
// with USE).
import { SPECIAL_USES, type SpecialUse } from '../../store/types.js';
import { no, ok } from '../responses.js';
import type { ArgCursor } from '../wire/parser.js';
import { AUTHED, command } from './types.js';
import { clientMailboxName, getMailboxOrFail, requireAccount } from './util.js';

function parseCreate(c: ArgCursor): { name: string; use: string[] } {
  c.space();
  const name = c.mailbox();
  let use: string[] = [];
  if (c.maybe(' ')) {
    // RFC 6154 §5.3: CREATE name (USE (\Drafts ...)).
    c.list((p) => {
      if (p.word() !== 'USE') p.fail('Unknown CREATE parameter');
      p.space();
      use = p.list((f) => f.flag(), 1);
    }, 1);
  }
  c.end();
  return { name, use };
}

export const CREATE = command({
  name: 'CREATE',
  states: AUTHED,
  parse: parseCreate,
  async run(s, a) {
    const account = requireAccount(s);
    // RFC 9051 §6.3.4: a trailing delimiter only says the name will have inferiors.
    const name = clientMailboxName(s, a.name.endsWith('/') ? a.name.slice(0, -1) : a.name);
    if (name === 'INBOX') throw no('ALREADYEXISTS', 'INBOX always exists');
    let specialUse: SpecialUse | null = null;
    if (a.use.length > 1) throw no('USEATTR', 'Only one special-use attribute per mailbox');
    if (a.use.length === 1) {
      const u = SPECIAL_USES.find((x) => x.toLowerCase() === a.use[0].toLowerCase());
      if (!u) throw no('USEATTR', `Unsupported special-use attribute ${a.use[0]}`);
      specialUse = u;
    }
    const store = s.ctx.store;
    if (await store.getMailbox(account.id, name)) throw no('ALREADYEXISTS', 'Mailbox exists');
    // RFC 9051 §6.3.4: superior names that are needed are created too.
    const levels = name.split('/');
    for (let i = 1; i < levels.length; i++) {
      const parent = levels.slice(0, i).join('/');
      if (!(await store.getMailbox(account.id, parent)))
        await store.createMailbox(account.id, parent);
    }
    const mb = await store.createMailbox(account.id, name, specialUse);
    // RFC 8474 §4.1: every successful CREATE names the new mailbox's MAILBOXID.
    return ok('CREATE completed', `MAILBOXID (${mb.objectId})`);
  },
});

export const DELETE = command({
  name: 'DELETE',
  states: AUTHED,
  parse(c) {
    c.space();
    const name = c.mailbox();
    c.end();
    return name;
  },
  async run(s, name) {
    const mb = await getMailboxOrFail(s, name);
    if (mb.name === 'INBOX') throw no('CANNOT', 'INBOX cannot be deleted');
    if (s.selected?.mailbox.id === mb.id) throw no('INUSE', 'Close the mailbox before deleting it');
    await s.ctx.store.deleteMailbox(mb.id);
    return ok('DELETE completed');
  },
});

export const RENAME = command({
  name: 'RENAME',
  states: AUTHED,
  parse(c) {
    c.space();
    const from = c.mailbox();
    c.space();
    const to = c.mailbox();
    c.end();
    return { from, to };
  },
  async run(s, a) {
    const account = requireAccount(s);
    const store = s.ctx.store;
    const source = await getMailboxOrFail(s, a.from);
    const target = clientMailboxName(s, a.to);
    if (await store.getMailbox(account.id, target)) throw no('ALREADYEXISTS', 'Target exists');
    if (source.name !== 'INBOX') {
      await store.renameMailbox(source.id, target);
      return ok('RENAME completed');
    }
    // RFC 9051 §6.3.6: renaming INBOX moves all its messages to a new mailbox with the
    // given name and leaves INBOX, empty, in place.
    const created = await store.createMailbox(account.id, target);
    const uids = (await store.listMessages(source.id)).map((r) => r.uid);
    if (uids.length > 0) await store.moveMessages(source.id, uids, created.id);
    // RFC 5464 §4.1: INBOX's annotations are copied to the new mailbox and stay on INBOX
    // (a SHOULD: past the account's annotation limits the copy is left out, not the rename).
    const notes = await store.getMetadata(
      account.id,
      source.id,
      ['/private', '/shared'],
      'infinity',
    );
    if (notes.length > 0) await store.setMetadata(account.id, created.id, notes);
    return ok('RENAME completed');
  },
});

function subscribeCommand(name: 'SUBSCRIBE' | 'UNSUBSCRIBE') {
  return command({
    name,
    states: AUTHED,
    parse(c) {
      c.space();
      const mailbox = c.mailbox();
      c.end();
      return mailbox;
    },
    async run(s, mailbox) {
      // RFC 9051 §6.3.7: a name may be subscribed whether or not the mailbox exists.
      const n = clientMailboxName(s, mailbox);
      await s.ctx.store.setSubscribed(requireAccount(s).id, n, name === 'SUBSCRIBE');
      return ok(`${name} completed`);
    },
  });
}

export const SUBSCRIBE = subscribeCommand('SUBSCRIBE');
export const UNSUBSCRIBE = subscribeCommand('UNSUBSCRIBE');
