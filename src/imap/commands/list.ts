// LIST (RFC 9051 §6.3.9 with LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819, SPECIAL-USE
// RFC 6154, CHILDREN RFC 3348) and LSUB (RFC 3501 §6.3.9).
import type { Mailbox } from '../../store/types.js';
import { compileMailboxPattern, type MailboxMatcher } from '../mailbox-pattern.js';
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

/**
 * The names a recursive match reports for their descendants (RFC 5258 §3.5 CHILDINFO, and
 * LSUB's `\Noselect`, which RFC 5258 §3.5 names as the same condition): a name that matches
 * the pattern, is not itself selected, and has a selected descendant that is not returned
 * (it does not match the pattern). "Servers SHOULD ONLY return a non-matching mailbox name
 * along with CHILDINFO if at least one matching child is not also being returned": so under
 * `*`, where every descendant is returned too, no parent is added. It is also RFC 5258 §4's
 * second reason to list a name that does not exist (`\NonExistent`).
 */
function parentsOfHidden(
  selected: Iterable<string>,
  isSelected: (name: string) => boolean,
  match: MailboxMatcher,
): Set<string> {
  const out = new Set<string>();
  for (const name of selected) {
    if (match(name)) continue;
    for (const p of ancestors(name)) if (!isSelected(p) && match(p)) out.add(p);
  }
  return out;
}

/** Any of several patterns (RFC 5258 §3: a name matching several is listed once). */
function anyOf(matchers: MailboxMatcher[]): MailboxMatcher {
  return matchers.length === 1 ? matchers[0] : (name) => matchers.some((m) => m(name));
}

async function listEntries(s: ImapSession, a: ListArgs, patterns: string[]): Promise<Entry[]> {
  const account = requireAccount(s);
  const mailboxes = await s.ctx.store.listMailboxes(account.id);
  const byName = new Map(mailboxes.map((m) => [m.name, m]));
  const subscribed = new Set(await s.ctx.store.listSubscriptions(account.id));
  const parents = new Set<string>();
  for (const m of mailboxes) for (const p of ancestors(m.name)) parents.add(p);
  const match = anyOf(patterns.map((p) => compileMailboxPattern(p)));
  const selSubscribed = a.selectOptions.includes('SUBSCRIBED');
  const selSpecial = a.selectOptions.includes('SPECIAL-USE');
  const recursive = a.selectOptions.includes('RECURSIVEMATCH');
  const showSubscribed = selSubscribed || a.returnOptions.includes('SUBSCRIBED');
  // RFC 5258 §3: a name is listed when it satisfies every selection option.
  const isSelected = (name: string): boolean => {
    if (selSubscribed && !subscribed.has(name)) return false;
    if (selSpecial && !byName.get(name)?.specialUse) return false;
    return true;
  };
  const selected = [...(selSubscribed ? subscribed : [...byName.keys(), ...parents])].filter(
    isSelected,
  );
  const names = new Set(selected.filter(match));
  // RFC 5258 §3.1 RECURSIVEMATCH: also a parent that is not selected but has a selected
  // descendant; RFC 5258 §3.5: only when that descendant is not returned as well.
  const withChildInfo = recursive
    ? parentsOfHidden(selected, isSelected, match)
    : new Set<string>();
  for (const p of withChildInfo) names.add(p);
  const out: Entry[] = [];
  for (const name of [...names].sort(sortNames)) {
    const mb = byName.get(name) ?? null;
    const attrs: string[] = [];
    if (!mb) attrs.push(selSubscribed || recursive ? '\\NonExistent' : '\\Noselect');
    const hasChildren = parents.has(name);
    attrs.push(hasChildren ? '\\HasChildren' : '\\HasNoChildren');
    if (mb?.specialUse) attrs.push(mb.specialUse);
    if (showSubscribed && subscribed.has(name)) attrs.push('\\Subscribed');
    out.push({ name, attrs, mailbox: mb, childInfo: withChildInfo.has(name) });
  }
  return out;
}

/**
 * RFC 5258 §6 childinfo-extended-item: the base selection options that caused the entry,
 * quoted (REMOTE and RECURSIVEMATCH are not base options).
 */
function childInfoItem(a: ListArgs): string {
  const base = [...new Set(a.selectOptions)].filter(
    (o) => o === 'SUBSCRIBED' || o === 'SPECIAL-USE',
  );
  return ` ("CHILDINFO" (${base.map((o) => `"${o}"`).join(' ')}))`;
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
    // RFC 5258 §3: in an extended LIST the empty string is no special request and is
    // ignored for matching.
    const patterns = a.patterns
      .filter((p) => !a.extended || p !== '')
      .map((p) => clientPattern(s, a.reference, p));
    if (patterns.length === 0) return ok('LIST completed');
    const extra = childInfoItem(a);
    for (const e of await listEntries(s, a, patterns)) {
      s.untagged(
        Buffer.concat([
          Buffer.from(`LIST (${e.attrs.join(' ')}) "/" `),
          mailboxAstring(s, e.name),
          Buffer.from(e.childInfo ? extra : ''),
        ]),
      );
      // RFC 5819 §2: STATUS follows the LIST of each selectable mailbox.
      if (a.statusItems && e.mailbox) s.untagged(await statusResponse(s, e.mailbox, a.statusItems));
      await s.maybeFlush();
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
    const subs = await s.ctx.store.listSubscriptions(account.id);
    const subscribed = new Set(subs);
    // RFC 3501 §6.3.9: with "foo/bar" subscribed and "foo" not, `%` returns "foo", flagged
    // \Noselect, and not "foo/bar" (the condition RFC 5258 §3.5 reports as CHILDINFO).
    const parents = parentsOfHidden(subs, (n) => subscribed.has(n), match);
    const names = [...subs.filter(match), ...parents].sort(sortNames);
    for (const name of names) {
      const attrs = subscribed.has(name) && existing.has(name) ? '' : '\\Noselect';
      s.untagged(Buffer.concat([Buffer.from(`LSUB (${attrs}) "/" `), mailboxAstring(s, name)]));
    }
    return ok('LSUB completed');
  },
});
