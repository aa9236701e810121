// LIST (RFC 9051 §6.3.9 with LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819, SPECIAL-USE
// RFC 6154, CHILDREN RFC 3348) and LSUB (RFC 3501 §6.3.9).
import type { Mailbox } from '../../store/types.js';
import { compileMailboxPattern } from '../mailbox-pattern.js';
import { ok } from '../responses.js';
import type { ImapSession } from '../session.js';
import { type ListArgs, parseListArgs, parseLsubArgs } from '../wire/args.js';
import { decodeMailboxName } from '../wire/utf7.js';
import { statusResponse } from './status.js';
import { AUTHED, command } from './types.js';
import { mailboxAstring, requireAccount } from './util.js';

function clientPattern(s: ImapSession, reference: string, pattern: string): string {
  // RFC 9051 §6.3.9: the reference and the pattern are joined into one canonical pattern.
  let full = reference.length > 0 && !pattern.startsWith('/') ? reference + pattern : pattern;
  if (!s.enabled.utf8) full = decodeMailboxName(full) ?? full;
  return full;
}

interface Entry {
  name: string;
  attrs: string[];
  mailbox: Mailbox | null;
  childInfo: boolean;
}

function ancestors(name: string): string[] {
  const levels = name.split('/');
  const out: string[] = [];
  for (let i = 1; i < levels.length; i++) out.push(levels.slice(0, i).join('/'));
  return out;
}

function sortNames(a: string, b: string): number {
  if (a === 'INBOX') return -1;
  if (b === 'INBOX') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

async function listEntries(s: ImapSession, a: ListArgs, pattern: string): Promise<Entry[]> {
  const account = requireAccount(s);
  const mailboxes = await s.ctx.store.listMailboxes(account.id);
  const byName = new Map(mailboxes.map((m) => [m.name, m]));
  const subscribed = new Set(await s.ctx.store.listSubscriptions(account.id));
  const parents = new Set<string>();
  for (const m of mailboxes) for (const p of ancestors(m.name)) parents.add(p);
  const match = compileMailboxPattern(pattern);
  const selSubscribed = a.selectOptions.includes('SUBSCRIBED');
  const selSpecial = a.selectOptions.includes('SPECIAL-USE');
  const recursive = a.selectOptions.includes('RECURSIVEMATCH');
  const showSubscribed = selSubscribed || a.returnOptions.includes('SUBSCRIBED');
  const selected = (name: string): boolean => {
    if (selSubscribed && !subscribed.has(name)) return false;
    if (selSpecial && !byName.get(name)?.specialUse) return false;
    return true;
  };
  const candidates = new Set<string>(selSubscribed ? subscribed : [...byName.keys(), ...parents]);
  if (recursive) for (const n of [...candidates]) for (const p of ancestors(n)) candidates.add(p);
  // RFC 5258 §3.5: with RECURSIVEMATCH, a name is also listed when a descendant is selected.
  const selectedBelow = new Set<string>();
  if (recursive)
    for (const c of candidates) if (selected(c)) for (const p of ancestors(c)) selectedBelow.add(p);
  const out: Entry[] = [];
  for (const name of [...candidates].sort(sortNames)) {
    if (!match(name)) continue;
    const isSelected = candidates.has(name) && selected(name);
    const childSelected = selectedBelow.has(name);
    if (!isSelected && !childSelected) continue;
    const mb = byName.get(name) ?? null;
    const attrs: string[] = [];
    if (!mb) attrs.push(selSubscribed || recursive ? '\\NonExistent' : '\\Noselect');
    const hasChildren = parents.has(name);
    attrs.push(hasChildren ? '\\HasChildren' : '\\HasNoChildren');
    if (mb?.specialUse) attrs.push(mb.specialUse);
    if (showSubscribed && subscribed.has(name)) attrs.push('\\Subscribed');
    out.push({ name, attrs, mailbox: mb, childInfo: !isSelected && childSelected });
  }
  return out;
}

export const LIST = command({
  name: 'LIST',
  states: AUTHED,
  parse: parseListArgs,
  async run(s, a) {
    // RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root.
    if (!a.extended && a.patterns.length === 1 && a.patterns[0] === '') {
      s.untagged('LIST (\\Noselect) "/" ""');
      return ok('LIST completed');
    }
    const seen = new Set<string>();
    for (const pattern of a.patterns) {
      for (const e of await listEntries(s, a, clientPattern(s, a.reference, pattern))) {
        if (seen.has(e.name)) continue;
        seen.add(e.name);
        const extra = e.childInfo ? ' ("CHILDINFO" ("SUBSCRIBED"))' : '';
        s.untagged(
          Buffer.concat([
            Buffer.from(`LIST (${e.attrs.join(' ')}) "/" `),
            mailboxAstring(s, e.name),
            Buffer.from(extra),
          ]),
        );
        // RFC 5819 §2: STATUS follows the LIST of each selectable mailbox.
        if (a.statusItems && e.mailbox)
          s.untagged(await statusResponse(s, e.mailbox, a.statusItems));
        await s.maybeFlush();
      }
    }
    return ok('LIST completed');
  },
});

export const LSUB = command({
  name: 'LSUB',
  states: AUTHED,
  parse: parseLsubArgs,
  async run(s, a) {
    const account = requireAccount(s);
    const match = compileMailboxPattern(clientPattern(s, a.reference, a.pattern));
    const existing = new Set((await s.ctx.store.listMailboxes(account.id)).map((m) => m.name));
    const subs = (await s.ctx.store.listSubscriptions(account.id)).sort(sortNames);
    for (const name of subs) {
      if (!match(name)) continue;
      const attrs = existing.has(name) ? '' : '\\Noselect';
      s.untagged(Buffer.concat([Buffer.from(`LSUB (${attrs}) "/" `), mailboxAstring(s, name)]));
    }
    return ok('LSUB completed');
  },
});
