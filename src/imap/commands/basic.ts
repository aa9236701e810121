// NOOP, LOGOUT, CHECK, ID, NAMESPACE, ENABLE: the small commands (RFC 9051 §6.1, §6.3.1,
// §6.3.10; RFC 2971 ID; RFC 5161 ENABLE).
import { ok } from '../responses.js';
import type { ArgCursor } from '../wire/parser.js';
import { string } from '../wire/serializer.js';
import { ANY, AUTHED, command, noArgs, SELECTED } from './types.js';

// RFC 9051 §6.1.2: NOOP does nothing; pending updates are sent by the dispatcher before OK.
export const NOOP = command({
  name: 'NOOP',
  states: ANY,
  parse: noArgs,
  async run() {
    return ok('NOOP completed');
  },
});

// RFC 9051 §6.4.1: CHECK is gone from IMAP4rev2; for IMAP4rev1 it is a NOOP.
export const CHECK = command({
  name: 'CHECK',
  states: SELECTED,
  parse: noArgs,
  async run() {
    return ok('CHECK completed');
  },
});

// RFC 9051 §6.1.3: BYE, then the tagged OK, then the connection closes.
export const LOGOUT = command({
  name: 'LOGOUT',
  states: ANY,
  parse: noArgs,
  async run(s) {
    s.untaggedStatus('BYE', undefined, 'Logging out');
    s.state = { kind: 'logout' };
    s.loggedOut = true;
    return ok('LOGOUT completed');
  },
});

/** RFC 2971 §3.1: "(" *(string SP nstring) ")" / NIL; the values are only logged. */
function parseIdParams(c: ArgCursor): Record<string, string | null> | null {
  c.space();
  if (c.peekWord() === 'NIL' && c.peek() !== 0x28) {
    c.word();
    c.end();
    return null;
  }
  const fields: Record<string, string | null> = {};
  const items = c.list((l) => l.nstring());
  c.end();
  // RFC 2971 §3.3: at most 30 pairs, field names at most 30 octets, values at most 1024.
  if (items.length % 2 !== 0 || items.length > 60) c.fail('ID takes up to 30 field/value pairs');
  for (let i = 0; i < items.length; i += 2) {
    const k = items[i];
    const val = items[i + 1];
    if (k === null || k.length > 30 || (val !== null && val.length > 1024))
      c.fail('Bad ID field or value');
    fields[k.toString('utf8')] = val === null ? null : val.toString('utf8');
  }
  return fields;
}

export const ID = command({
  name: 'ID',
  states: ANY,
  parse: parseIdParams,
  async run(s, params) {
    if (params) s.log.info({ client: params }, 'client ID');
    s.untagged(
      `ID (${['name', 'Letterbox', 'vendor', 'Letterbox'].map((x) => string(x).toString()).join(' ')})`,
    );
    return ok('ID completed');
  },
});

// RFC 9051 §6.3.10 / RFC 2342: one personal namespace, no shared or other users' ones.
export const NAMESPACE = command({
  name: 'NAMESPACE',
  states: AUTHED,
  parse: noArgs,
  async run(s) {
    s.untagged('NAMESPACE (("" "/")) NIL NIL');
    return ok('NAMESPACE completed');
  },
});

const ENABLEABLE = new Set(['CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT', 'IMAP4REV2']);

// RFC 5161 §3.1: unknown capabilities are ignored; ENABLED lists those newly turned on.
export const ENABLE = command({
  name: 'ENABLE',
  // RFC 5161 §3.1: only in the authenticated state, before a mailbox is selected.
  states: ['authenticated'],
  parse(c) {
    const caps: string[] = [];
    do {
      c.space();
      caps.push(c.atom().toUpperCase());
    } while (!c.atEnd());
    return caps;
  },
  async run(s, caps) {
    const newly: string[] = [];
    for (const cap of caps) {
      if (!ENABLEABLE.has(cap)) continue;
      const e = s.enabled;
      if (cap === 'CONDSTORE' && !e.condstore) {
        e.condstore = true;
        newly.push('CONDSTORE');
      } else if (cap === 'QRESYNC' && !e.qresync) {
        // RFC 7162 §3.2.3: enabling QRESYNC implies CONDSTORE.
        e.qresync = true;
        e.condstore = true;
        newly.push('QRESYNC');
      } else if (cap === 'UTF8=ACCEPT' && !e.utf8) {
        e.utf8 = true;
        newly.push('UTF8=ACCEPT');
      } else if (cap === 'IMAP4REV2' && !e.imap4rev2) {
        // RFC 9051 §6.3.1: IMAP4rev2 implies UTF-8 mailbox names and strings.
        e.imap4rev2 = true;
        e.utf8 = true;
        newly.push('IMAP4rev2');
      }
    }
    s.untagged(`ENABLED${newly.map((x) => ` ${x}`).join('')}`);
    return ok('ENABLE completed');
  },
});
