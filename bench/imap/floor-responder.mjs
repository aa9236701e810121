// The least an IMAP server on Node does for the login-heavy mix (issue 19's floor, beside
// bench/smtp/floor-responder.mjs): net.createServer, a line reader that reads literals by
// their octet count (APPEND's `{n}` answered with `+`, RFC 9051 §4.3; `{n+}` of RFC 7888 read
// without it), and canned replies of the shape and about the bytes of Letterbox's to the mix's
// commands (greeting and LOGIN with capabilities, SELECT's untagged lines, FETCH of 30
// messages' three header fields, APPEND's APPENDUID, STORE, EXPUNGE, LOGOUT's BYE), each in
// one write as Letterbox sends it. No store, no parse beyond the tag and the command's name,
// no logger, no timers. Plain JavaScript (no loader) so that its CPU is Node's and the
// kernel's own. Started by node-floor.ts:
//   node bench/imap/floor-responder.mjs PORT
import net from 'node:net';

const CAPS =
  'IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE STARTTLS AUTH=PLAIN AUTH=LOGIN';
const GREETING = `* OK [CAPABILITY ${CAPS}] Letterbox ready\r\n`;
const LOGIN_CAPS =
  'IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT ' +
  'CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE CONDSTORE QRESYNC ESEARCH SEARCHRES SORT ' +
  'SORT=DISPLAY WITHIN ESORT CONTEXT=SEARCH CONTEXT=SORT PARTIAL THREAD=ORDEREDSUBJECT ' +
  'THREAD=REFERENCES MULTIAPPEND CATENATE REPLACE METADATA METADATA-SERVER ' +
  'APPENDLIMIT=52428800 BINARY STATUS=SIZE UTF8=ACCEPT QUOTA QUOTA=RES-STORAGE NOTIFY ' +
  'OBJECTID PREVIEW SAVEDATE COMPRESS=DEFLATE';
const MESSAGES = 30;
const SELECT =
  '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n' +
  '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n' +
  `* ${MESSAGES} EXISTS\r\n* 0 RECENT\r\n* OK [UNSEEN 1] First unseen\r\n` +
  '* OK [UIDVALIDITY 1796587533] UIDs valid\r\n* OK [UIDNEXT 1000] Predicted next UID\r\n' +
  '* OK [HIGHESTMODSEQ 3000] Highest\r\n* OK [MAILBOXID (Fa5b638340abd50138df1597e)] Ok\r\n';
const SENDERS = ['Alice Archer', 'Bob Baker', 'Carol Cooper', 'Dave Dyer', 'Erin Fisher'];
let fetch = '';
for (let n = 1; n <= MESSAGES; n++) {
  const who = SENDERS[n % SENDERS.length];
  const minute = String(n % 60).padStart(2, '0');
  const header =
    `From: ${who} <${who.split(' ')[0].toLowerCase()}@example.org>\r\n` +
    `Subject: mix report ${String(n).padStart(8, '0')} for the quarterly review\r\n` +
    `Date: Mon, 01 Jan 2024 00:${minute}:00 +0000\r\n\r\n`;
  fetch +=
    `* ${n} FETCH (UID ${900 + n} FLAGS () BODY[HEADER.FIELDS (FROM SUBJECT DATE)] ` +
    `{${header.length}}\r\n${header})\r\n`;
}
const FETCH = fetch;
const LF = 0x0a;

let nextUid = 1000;
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  socket.write(GREETING);
  let pending = null;
  /** Octets of a literal still to skip. */
  let literal = 0;
  /** The tag and command name of the line a literal interrupted (APPEND's). */
  let held = '';
  const answer = (line) => {
    const sp = line.indexOf(' ');
    const tag = line.slice(0, sp);
    const sp2 = line.indexOf(' ', sp + 1);
    const verb = line.slice(sp + 1, sp2 < 0 ? line.length : sp2).toUpperCase();
    switch (verb) {
      case 'LOGIN':
        return socket.write(`${tag} OK [CAPABILITY ${LOGIN_CAPS}] Logged in\r\n`);
      case 'SELECT':
        return socket.write(`${SELECT}${tag} OK [READ-WRITE] SELECT completed\r\n`);
      case 'FETCH':
        return socket.write(`${FETCH}${tag} OK FETCH completed\r\n`);
      case 'APPEND':
        return socket.write(
          `* ${MESSAGES + 1} EXISTS\r\n* 1 RECENT\r\n` +
            `${tag} OK [APPENDUID 1796587533 ${nextUid++}] APPEND completed\r\n`,
        );
      case 'STORE':
        return socket.write(`${tag} OK STORE completed\r\n`);
      case 'EXPUNGE':
        return socket.write(`* 1 EXPUNGE\r\n${tag} OK EXPUNGE completed\r\n`);
      case 'LOGOUT':
        return socket.end(`* BYE Logging out\r\n${tag} OK LOGOUT completed\r\n`);
      default:
        return socket.write(`${tag} BAD Unknown command\r\n`);
    }
  };
  socket.on('data', (chunk) => {
    const buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
    pending = null;
    let pos = 0;
    while (pos < buf.length) {
      if (literal > 0) {
        const n = Math.min(literal, buf.length - pos);
        literal -= n;
        pos += n;
        continue;
      }
      const eol = buf.indexOf(LF, pos);
      if (eol < 0) break;
      // The line without its CRLF (a bare LF ends it too).
      const end = eol > pos && buf[eol - 1] === 0x0d ? eol - 1 : eol;
      const text = buf.toString('latin1', pos, end);
      pos = eol + 1;
      if (text.endsWith('}')) {
        const open = text.lastIndexOf('{');
        const spec = text.slice(open + 1, -1);
        const plus = spec.endsWith('+');
        literal = Number(plus ? spec.slice(0, -1) : spec);
        held = held === '' ? text : held;
        if (!plus) socket.write('+ Ready for literal data\r\n');
        continue;
      }
      // A line after a literal ends the command the literal began.
      const line = held === '' ? text : held;
      held = '';
      answer(line);
    }
    if (pos < buf.length) pending = buf.subarray(pos);
  });
});
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('listening\n'));
