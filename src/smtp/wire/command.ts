// SMTP command line -> typed command (RFC 5321 §4.1). Pure and total: every input, however
// broken, gives either a command or an error reply; nothing throws. The line arrives from the
// line reader (net/) which enforces the length limit; a trailing CRLF is tolerated here.
import { isUtf8 } from 'node:buffer';
import { type Address, parsePath } from './address.js';
import { type MailParams, parseMailParams, parseRcptParams, type RcptParams } from './params.js';
import {
  authBadBase64,
  badRecipientSyntax,
  badSenderSyntax,
  invalidCharacters,
  nonAsciiAddress,
  notImplemented,
  syntaxError,
  unrecognizedCommand,
} from './replies.js';
import type { SmtpReply } from './reply.js';

export type { Address } from './address.js';
export type { MailParams, RcptParams } from './params.js';

export type SmtpCommand =
  | { kind: 'EHLO'; domain: string }
  | { kind: 'HELO'; domain: string }
  | { kind: 'MAIL'; from: Address | null; params: MailParams }
  | { kind: 'RCPT'; to: Address; params: RcptParams }
  | { kind: 'DATA' }
  | { kind: 'BDAT'; size: number; last: boolean }
  | { kind: 'RSET' }
  | { kind: 'NOOP' }
  | { kind: 'QUIT' }
  | { kind: 'VRFY'; arg: string }
  | { kind: 'EXPN'; arg: string }
  | { kind: 'HELP'; topic: string | null }
  | { kind: 'STARTTLS' }
  | { kind: 'AUTH'; mechanism: string; initialResponse?: string };

export type CommandError = { kind: 'error'; reply: SmtpReply };
export type ParseResult = SmtpCommand | CommandError;

export interface ParseOptions {
  /**
   * The server offers SMTPUTF8 (RFC 6531). For MAIL it allows the SMTPUTF8 parameter, and a
   * UTF-8 reverse-path when that parameter is on the same command; for RCPT the session passes
   * whether the current transaction was started with SMTPUTF8. Also allows a UTF-8 EHLO domain.
   */
  smtputf8Allowed?: boolean;
}

type Handler = (arg: string, opts: ParseOptions) => ParseResult;

const err = (reply: SmtpReply): CommandError => ({ kind: 'error', reply });

function noArg(kind: 'DATA' | 'RSET' | 'QUIT' | 'STARTTLS'): Handler {
  // RFC 5321 §4.1.1.4 (DATA), §4.1.1.5 (RSET), §4.1.1.10 (QUIT), RFC 3207 §4: no argument.
  return (arg) => (arg === '' ? { kind } : err(syntaxError(`${kind} takes no argument`)));
}

// RFC 5321 §4.1.1.1: "EHLO" SP ( Domain / address-literal ). Real clients send odd names
// (bare IPs, underscores, "localhost"), so any printable word is taken; checks that matter
// (matching reverse DNS, refusing our own name) belong to policy. Extra words are ignored.
function greeting(kind: 'EHLO' | 'HELO'): Handler {
  return (arg, opts) => {
    const sp = arg.indexOf(' ');
    const domain = sp < 0 ? arg : arg.slice(0, sp);
    if (domain === '') return err(syntaxError(`${kind} requires a domain`));
    if (!opts.smtputf8Allowed && /[^\x00-\x7f]/.test(domain)) {
      return err(syntaxError('Non-ASCII domain'));
    }
    return { kind, domain };
  };
}

// RFC 5321 §4.1.1.2: "MAIL FROM:" Reverse-path [SP Mail-parameters]. A space after the colon
// is tolerated (common, though not in the grammar).
const mail: Handler = (arg, opts) => {
  const m = /^FROM: */i.exec(arg);
  if (m === null) return err(syntaxError('Syntax: MAIL FROM:<address>'));
  const path = parsePath(arg, m[0].length, { allowNull: true, allowPostmaster: false });
  if (!path.ok) return err(badSenderSyntax());
  const rest = arg.slice(path.end);
  if (rest !== '' && rest[0] !== ' ') return err(badSenderSyntax());
  const params = parseMailParams(rest, opts.smtputf8Allowed === true);
  if (!params.ok) return err(params.reply);
  // RFC 6531 §3.4: a UTF-8 reverse-path needs the SMTPUTF8 parameter on this command.
  if (path.nonAscii && !params.params.smtputf8) return err(nonAsciiAddress());
  return { kind: 'MAIL', from: path.address, params: params.params };
};

// RFC 5321 §4.1.1.3: "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path )
// [SP Rcpt-parameters].
const rcpt: Handler = (arg, opts) => {
  const m = /^TO: */i.exec(arg);
  if (m === null) return err(syntaxError('Syntax: RCPT TO:<address>'));
  const path = parsePath(arg, m[0].length, { allowNull: false, allowPostmaster: true });
  if (!path.ok || path.address === null) return err(badRecipientSyntax());
  const rest = arg.slice(path.end);
  if (rest !== '' && rest[0] !== ' ') return err(badRecipientSyntax());
  if (path.nonAscii && !opts.smtputf8Allowed) return err(nonAsciiAddress());
  const params = parseRcptParams(rest);
  if (!params.ok) return err(params.reply);
  return { kind: 'RCPT', to: path.address, params: params.params };
};

// RFC 3030 §2: "BDAT" SP chunk-size [ SP end-marker ]; chunk-size = 1*DIGIT; end-marker = "LAST".
const bdat: Handler = (arg) => {
  const m = /^(\d{1,15})(?: +(LAST))?$/i.exec(arg);
  if (m === null) return err(syntaxError('Syntax: BDAT <size> [LAST]'));
  return { kind: 'BDAT', size: Number(m[1]), last: m[2] !== undefined };
};

// RFC 4954 §4: "AUTH" SP sasl-mech [SP initial-response]; sasl-mech = 1*20 (ALPHA / DIGIT /
// "-" / "_") (RFC 4422 §3.1); initial-response = base64 / "=" (an empty response).
const auth: Handler = (arg) => {
  const m = /^([A-Za-z0-9_-]{1,20})(?: +(\S+))?$/.exec(arg);
  if (m === null) return err(syntaxError('Syntax: AUTH <mechanism> [initial-response]'));
  const mechanism = m[1].toUpperCase();
  const ir = m[2];
  if (ir === undefined) return { kind: 'AUTH', mechanism };
  if (ir !== '=' && !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(ir)) {
    return err(authBadBase64());
  }
  return { kind: 'AUTH', mechanism, initialResponse: ir };
};

// RFC 5321 §4.1.1.6 / §4.1.1.7: "VRFY" SP String, "EXPN" SP String.
function withString(kind: 'VRFY' | 'EXPN'): Handler {
  return (arg) => (arg === '' ? err(syntaxError(`${kind} requires an argument`)) : { kind, arg });
}

// A Map, not an object: a verb read from the wire is a new string each time, and a Map finds
// it by its hash where a property lookup first looks it up in V8's string table; and a verb
// like "CONSTRUCTOR" or "__PROTO__" cannot find Object.prototype.
const HANDLERS = new Map<string, Handler>(
  Object.entries({
    EHLO: greeting('EHLO'),
    HELO: greeting('HELO'),
    MAIL: mail,
    RCPT: rcpt,
    DATA: noArg('DATA'),
    BDAT: bdat,
    RSET: noArg('RSET'),
    // RFC 5321 §4.1.1.9: NOOP may carry a string, which is ignored.
    NOOP: () => ({ kind: 'NOOP' }),
    QUIT: noArg('QUIT'),
    VRFY: withString('VRFY'),
    EXPN: withString('EXPN'),
    HELP: (arg) => ({ kind: 'HELP', topic: arg === '' ? null : arg }),
    STARTTLS: noArg('STARTTLS'),
    AUTH: auth,
  }),
);

// Commands of RFC 821 / other RFCs that we recognize but do not implement: RFC 5321 §4.2.4
// prefers 502 over 500 for them.
const NOT_IMPLEMENTED = new Set(['SEND', 'SOML', 'SAML', 'TURN', 'ETRN', 'ATRN', 'BURL', 'VERB']);

/** True when `s` has an a-z: clients send verbs in upper case, and then no toUpperCase call. */
function hasLowerCase(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Beyond ASCII too: toUpperCase decides what those become.
    if ((c >= 0x61 && c <= 0x7a) || c >= 0x80) return true;
  }
  return false;
}

/** Parses one command line (with or without its CRLF). Never throws. */
export function parseCommand(line: Buffer, opts: ParseOptions = {}): ParseResult {
  let end = line.length;
  if (end > 0 && line[end - 1] === 0x0a) end -= 1;
  if (end > 0 && line[end - 1] === 0x0d) end -= 1;
  let high = false;
  // An index loop: a Buffer's iterator was most of this function's time.
  for (let i = 0; i < end; i++) {
    const b = line[i]!;
    // RFC 5321 §4.1.1: commands are printable text; NUL, CR, LF and other controls in a line
    // are never valid (a bare CR/LF here could only be a smuggling attempt).
    if (b < 0x20 || b === 0x7f) return err(invalidCharacters());
    if (b >= 0x80) high = true;
  }
  if (high && !isUtf8(line.subarray(0, end))) return err(invalidCharacters());
  // ASCII reads the same as latin1 and UTF-8; latin1 is the cheaper decode.
  const text = line.toString(high ? 'utf8' : 'latin1', 0, end).trimEnd();
  const sp = text.indexOf(' ');
  const word = sp < 0 ? text : text.slice(0, sp);
  const verb = hasLowerCase(word) ? word.toUpperCase() : word;
  let argStart = sp + 1;
  if (sp >= 0) while (text.charCodeAt(argStart) === 0x20) argStart++;
  const arg = sp < 0 ? '' : text.slice(argStart);
  const handler = HANDLERS.get(verb);
  if (handler !== undefined) return handler(arg, opts);
  if (NOT_IMPLEMENTED.has(verb)) return err(notImplemented());
  return err(unrecognizedCommand());
}
