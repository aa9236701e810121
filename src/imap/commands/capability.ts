// CAPABILITY (RFC 9051 §6.1.1) and what we advertise in each state.
import { ok } from '../responses.js';
import type { ImapSession } from '../session.js';
import { ANY, command, noArgs } from './types.js';

export function capabilities(s: ImapSession): string[] {
  const caps = [
    'IMAP4rev1',
    'IMAP4rev2',
    'LITERAL+',
    'SASL-IR',
    'ID',
    'ENABLE',
    'IDLE',
    'NAMESPACE',
  ];
  if (s.state.kind === 'notAuthenticated') {
    if (!s.conn.secure && s.listener.starttls) caps.push('STARTTLS');
    // RFC 9051 §6.2.3 / RFC 8314: no passwords in clear; LOGINDISABLED and no AUTH= until TLS.
    if (s.plaintextAuthAllowed) caps.push('AUTH=PLAIN', 'AUTH=LOGIN');
    else caps.push('LOGINDISABLED');
    return caps;
  }
  caps.push(
    'UIDPLUS',
    'MOVE',
    'UNSELECT',
    'CHILDREN',
    'LIST-EXTENDED',
    'LIST-STATUS',
    'SPECIAL-USE',
    'CONDSTORE',
    'QRESYNC',
    'ESEARCH',
    'SEARCHRES',
    'SORT',
    'SORT=DISPLAY',
    'WITHIN',
    'ESORT', // RFC 5267 §3
    'CONTEXT=SEARCH', // RFC 5267 §4 (live results: ../contexts.ts)
    'CONTEXT=SORT',
    'PARTIAL', // RFC 9394: SEARCH / SORT RETURN (PARTIAL), UID FETCH (PARTIAL)
    'THREAD=ORDEREDSUBJECT',
    'THREAD=REFERENCES',
    'MULTIAPPEND',
    'CATENATE',
    'REPLACE',
    'METADATA',
    'METADATA-SERVER',
    `APPENDLIMIT=${s.ctx.cfg.limits.max_message_size}`,
    'BINARY',
    'STATUS=SIZE',
    'UTF8=ACCEPT',
    'QUOTA',
    'QUOTA=RES-STORAGE',
    'NOTIFY',
  );
  // RFC 8474, RFC 8970, RFC 8514: message and mailbox ids, previews, save dates.
  caps.push('OBJECTID', 'PREVIEW', 'SAVEDATE');
  // RFC 4978 §3: only one compression layer.
  if (!s.compressed) caps.push('COMPRESS=DEFLATE');
  return caps;
}

export const CAPABILITY = command({
  name: 'CAPABILITY',
  states: ANY,
  parse: noArgs,
  async run(s) {
    s.untagged(`CAPABILITY ${capabilities(s).join(' ')}`);
    return ok('CAPABILITY completed');
  },
});
