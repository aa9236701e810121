/**
 * GETMETADATA and SETMETADATA (RFC 5464 METADATA, with METADATA-SERVER): annotations on the
 * account's mailboxes and on "the server" (mailbox name ""). Both are per account: the store
 * keeps no annotation another user could read, so shared (/shared/...) server annotations,
 * which RFC 5464 §3.2.1.1 defines as visible to every user, are not settable (`NO [NOPERM]`,
 * §3.3 lets a server restrict them); /private/... server annotations and both kinds on
 * mailboxes are. On a mailbox, /private/specialuse is its special-use attribute (RFC 6154
 * §4), computed and checked when set. Limits: METADATA_LIMITS (store/types.ts). Unsolicited METADATA responses
 * are sent only for NOTIFY's metadata events (RFC 5465 §5.6, §5.7, which need no ENABLE), so
 * ENABLE METADATA is accepted and enables nothing more (RFC 5464 §4.1).
 */
import {
  type Mailbox,
  METADATA_LIMITS,
  type MetadataEntry,
  SPECIAL_USES,
  type SpecialUse,
} from '../../store/types.js';
import { no, ok } from '../responses.js';
import type { ImapSession } from '../session.js';
import { type ArgCursor, mailboxName } from '../wire/parser.js';
import { astring, literal8, string } from '../wire/serializer.js';
import { AUTHED, command } from './types.js';
import { getMailboxOrFail, mailboxAstring, requireAccount } from './util.js';

/**
 * RFC 5464 §3.2: an entry name, lower-cased (names are case-insensitive). Invalid names are
 * BAD in every command: "/private/..." or "/shared/..." with at least two components (four
 * under .../vendor/<vendor-token>), no "//", no trailing "/", no "*" or "%", only printable
 * US-ASCII.
 */
export function entryName(c: ArgCursor): string {
  const raw = c.astring();
  for (const b of raw) {
    if (b < 0x20 || b > 0x7e || b === 0x2a || b === 0x25)
      c.fail('Entry names are printable US-ASCII without "*" or "%"');
  }
  const name = raw.toString('latin1').toLowerCase();
  if (!name.startsWith('/private/') && !name.startsWith('/shared/'))
    c.fail('Entry names start with /private/ or /shared/');
  if (name.includes('//') || name.endsWith('/')) c.fail('Bad entry name: empty component');
  const parts = name.split('/').slice(1);
  if (parts[1] === 'vendor' && parts.length > 2 && parts.length < 4)
    c.fail('Vendor entry names have at least four components');
  return name;
}

/** `""` for the server's annotations, else the mailbox name as the client sent it. */
function metadataMailbox(c: ArgCursor): string {
  const bytes = c.astring();
  return bytes.length === 0 ? '' : mailboxName(c, bytes);
}

interface GetArgs {
  mailbox: string;
  maxSize: number | null;
  depth: 0 | 1 | 'infinity';
  entries: string[];
}

/** RFC 5464 §5 getmetadata-options: MAXSIZE number, DEPTH ("0" / "1" / "infinity"). */
function parseOptions(c: ArgCursor, into: GetArgs): void {
  c.list((l) => {
    const opt = l.word();
    l.space();
    if (opt === 'MAXSIZE') into.maxSize = l.number();
    else if (opt === 'DEPTH') {
      const d = l.word();
      if (d === '0') into.depth = 0;
      else if (d === '1') into.depth = 1;
      else if (d === 'INFINITY') into.depth = 'infinity';
      else l.fail('DEPTH is 0, 1 or infinity');
    } else l.fail(`Unknown GETMETADATA option ${opt}`);
  }, 1);
}

/** A list of options rather than of entries: "(" then a letter. */
function atOptions(c: ArgCursor): boolean {
  if (c.peek() !== 0x28) return false;
  const mark = c.save();
  c.expect('(');
  const w = c.peekWord();
  c.restore(mark);
  return w === 'MAXSIZE' || w === 'DEPTH';
}

/** getmetadata = "GETMETADATA" [SP getmetadata-options] SP mailbox SP entries. */
function parseGet(c: ArgCursor): GetArgs {
  const a: GetArgs = { mailbox: '', maxSize: null, depth: 0, entries: [] };
  c.space();
  if (atOptions(c)) {
    parseOptions(c, a);
    c.space();
  }
  a.mailbox = metadataMailbox(c);
  c.space();
  // Some clients put the options after the mailbox (the draft's order): taken as well.
  if (atOptions(c)) {
    parseOptions(c, a);
    c.space();
  }
  a.entries = c.peek() === 0x28 ? c.list(entryName, 1) : [entryName(c)];
  c.end();
  return a;
}

/** The value as an nstring / literal8 (RFC 5464 §5 value): literal8 when it holds NUL. */
function valueBytes(s: ImapSession, value: Buffer | null): Buffer {
  if (value === null) return Buffer.from('NIL');
  if (value.includes(0)) return literal8(value);
  return string(value, s.writeOpts);
}

/** The mailbox's id, null for the server, NO [NONEXISTENT] for a missing mailbox. */
async function target(s: ImapSession, mailbox: string): Promise<number | null> {
  if (mailbox === '') return null;
  return (await getMailboxOrFail(s, mailbox)).id;
}

/** RFC 6154 §4: the mailbox entry that shows (and sets) the special-use attribute. */
const SPECIAL_USE_ENTRY = '/private/specialuse';

/** `candidate` is `name` or below it, `depth` levels at most (RFC 5464 §4.2.2). */
function within(name: string, candidate: string, depth: 0 | 1 | 'infinity'): boolean {
  if (candidate === name) return true;
  if (depth === 0 || !candidate.startsWith(`${name}/`)) return false;
  return depth === 'infinity' || !candidate.slice(name.length + 1).includes('/');
}

/**
 * RFC 6154 §4: the value of /private/specialuse is the mailbox's special-use attributes; one
 * per mailbox here (as CREATE ... USE takes), one of those this server supports, or none.
 * The server MUST check what a client sets: anything else is NO [USEATTR].
 */
function specialUseValue(value: Buffer | null): SpecialUse | null {
  const words = value === null ? [] : value.toString('latin1').trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return null;
  if (words.length > 1) throw no('USEATTR', 'Only one special-use attribute per mailbox');
  const use = SPECIAL_USES.find((u) => u.toLowerCase() === words[0]!.toLowerCase());
  if (!use) throw no('USEATTR', `Unsupported special-use attribute ${words[0]!.slice(0, 40)}`);
  return use;
}

/** The stored entries plus the computed /private/specialuse of a mailbox, in name order. */
function withSpecialUse(
  found: MetadataEntry[],
  mb: Mailbox | null,
  names: readonly string[],
  depth: 0 | 1 | 'infinity',
): MetadataEntry[] {
  if (!mb) return found;
  const out = found.filter((e) => e.name !== SPECIAL_USE_ENTRY);
  if (mb.specialUse && names.some((n) => within(n, SPECIAL_USE_ENTRY, depth))) {
    out.push({ name: SPECIAL_USE_ENTRY, value: Buffer.from(mb.specialUse, 'latin1') });
    out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  return out;
}

export const GETMETADATA = command({
  name: 'GETMETADATA',
  states: AUTHED,
  parse: parseGet,
  async run(s, a) {
    const account = requireAccount(s);
    // RFC 5464 §3.3: only mailboxes the user can see; here, those of the account.
    const mb = a.mailbox === '' ? null : await getMailboxOrFail(s, a.mailbox);
    const id = mb?.id ?? null;
    const found = withSpecialUse(
      await s.ctx.store.getMetadata(account.id, id, a.entries, a.depth),
      mb,
      a.entries,
      a.depth,
    );
    const byName = new Map(found.map((e) => [e.name, e]));
    const out: Array<{ name: string; value: Buffer | null }> = [];
    const listed = new Set<string>();
    let longest = 0;
    const add = (e: MetadataEntry | { name: string; value: null }) => {
      if (listed.has(e.name)) return;
      listed.add(e.name);
      // RFC 5464 §4.2.1: values over MAXSIZE are left out, the biggest one is reported.
      if (e.value !== null && a.maxSize !== null && e.value.length > a.maxSize) {
        longest = Math.max(longest, e.value.length);
        return;
      }
      out.push(e);
    };
    for (const name of a.entries) {
      const exact = byName.get(name);
      // An entry asked for by name that does not exist is answered NIL; under DEPTH only
      // the entries that exist are listed (RFC 5464 §4.2.2 example).
      if (exact) add(exact);
      else if (a.depth === 0) add({ name, value: null });
      for (const e of found) {
        if (e.name !== name && within(name, e.name, a.depth)) add(e);
      }
    }
    if (out.length > 0) {
      const parts: Buffer[] = [
        Buffer.from('METADATA '),
        mb ? mailboxAstring(s, mb.name) : Buffer.from('""'),
        Buffer.from(' ('),
      ];
      out.forEach((e, i) => {
        // RFC 5464 §5: entry = astring (a name with a space or a quote is sent quoted).
        if (i > 0) parts.push(Buffer.from(' '));
        parts.push(
          astring(Buffer.from(e.name, 'latin1')),
          Buffer.from(' '),
          valueBytes(s, e.value),
        );
      });
      parts.push(Buffer.from(')'));
      s.untagged(Buffer.concat(parts));
    }
    return ok('GETMETADATA completed', longest > 0 ? `METADATA LONGENTRIES ${longest}` : undefined);
  },
});

interface SetArgs {
  mailbox: string;
  changes: Array<{ name: string; value: Buffer | null }>;
}

/** setmetadata = "SETMETADATA" SP mailbox SP "(" entry SP value *(SP entry SP value) ")". */
function parseSet(c: ArgCursor): SetArgs {
  c.space();
  const mailbox = metadataMailbox(c);
  c.space();
  const changes = c.list((l) => {
    const name = entryName(l);
    l.space();
    // value = nstring / literal8 (binary values may hold any octet).
    const b = l.peek();
    const value = b === 0x7b || b === 0x7e ? l.literal().data : l.nstring();
    return { name, value };
  }, 1);
  c.end();
  return { mailbox, changes };
}

export const SETMETADATA = command({
  name: 'SETMETADATA',
  states: AUTHED,
  parse: parseSet,
  async run(s, a) {
    const account = requireAccount(s);
    const id = await target(s, a.mailbox);
    if (id === null && a.changes.some((c) => c.name.startsWith('/shared/'))) {
      // RFC 5464 §3.3: a server may restrict server annotations; shared ones would be seen by
      // every user (and /shared/admin is read-only, §3.2.1.1).
      throw no('NOPERM', 'Shared server annotations are set by the administrator');
    }
    // RFC 6154 §4: on a mailbox, /private/specialuse is its special-use attribute, checked
    // before anything is changed.
    let changes = a.changes;
    let specialUse: { use: SpecialUse | null } | null = null;
    if (id !== null && changes.some((c) => c.name === SPECIAL_USE_ENTRY)) {
      const last = changes.filter((c) => c.name === SPECIAL_USE_ENTRY).pop()!;
      specialUse = { use: specialUseValue(last.value) };
      changes = changes.filter((c) => c.name !== SPECIAL_USE_ENTRY);
    }
    const r =
      changes.length > 0
        ? await s.ctx.store.setMetadata(account.id, id, changes)
        : { ok: true as const };
    if (specialUse && r.ok) await s.ctx.store.setSpecialUse(id!, specialUse.use);
    if (!r.ok) {
      // RFC 5464 §4.3: the tagged NO carries why, and nothing was changed.
      if (r.reason === 'toomany')
        throw no('METADATA TOOMANY', `At most ${METADATA_LIMITS.maxEntries} entries here`);
      throw no(`METADATA MAXSIZE ${r.max}`, 'Annotation value too large');
    }
    return ok('SETMETADATA completed');
  },
});
