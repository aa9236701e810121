// Server side of the SASL mechanisms PLAIN and LOGIN, as small immutable state machines with
// no I/O: SMTP (RFC 4954), IMAP (RFC 9051 §6.2.2) and POP3 (RFC 5034) all carry the same
// base64 exchange, each with its own framing ("334 " / "+ " prompts), which stays in the
// protocol code. Nothing here throws: every bad input is a value.
//
// Both mechanisms send the password in the clear; the protocols offer them only over TLS.

export type SaslMechanismName = 'PLAIN' | 'LOGIN';

export interface SaslCredentials {
  /** Authorization identity: who to act as. Empty when the client did not ask for one. */
  authzid: string;
  /** Authentication identity: whose password this is. */
  authcid: string;
  password: string;
}

/** Where an unfinished exchange stands; opaque to callers, passed back to continueSasl. */
export type SaslState =
  | { readonly mech: 'PLAIN'; readonly stage: 'message' }
  | { readonly mech: 'LOGIN'; readonly stage: 'username' }
  | { readonly mech: 'LOGIN'; readonly stage: 'password'; readonly username: string };

export type SaslErrorReason = 'cancelled' | 'malformed' | 'unsupported';

export type SaslStep =
  | { kind: 'challenge' /** base64 to send (may be empty) */; challenge: string; state: SaslState }
  | { kind: 'done'; credentials: SaslCredentials }
  | { kind: 'error'; reason: SaslErrorReason };

const MECHANISMS: readonly SaslMechanismName[] = ['PLAIN', 'LOGIN'];

/**
 * How an exchange that did not reach a password check ended, for the log line every protocol
 * writes (with `event: 'auth'`, the mechanism and how many challenges were answered): a
 * client that gives up at a challenge is otherwise invisible to an operator.
 */
export const SASL_ABORTED: Record<SaslErrorReason | 'closed' | 'too-long', string> = {
  cancelled: 'authentication aborted by the client',
  malformed: 'authentication aborted: response not valid for the mechanism',
  unsupported: 'authentication aborted: unsupported mechanism',
  closed: 'authentication aborted: connection closed at a challenge',
  'too-long': 'authentication aborted: line too long',
};

/** Mechanisms to advertise, in order of preference. */
export function supportedMechanisms(): string[] {
  return [...MECHANISMS];
}

// RFC 4616 §2: each field MUST be accepted up to 255 octets; the whole message is then at most
// 767 octets (1024 base64 characters). Allow generous room but bound the work per line.
const MAX_RESPONSE_BASE64 = 4096;

// RFC 4648 §4 alphabet with padding; no whitespace, no URL-safe characters, no missing pad.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const CANCEL: SaslStep = { kind: 'error', reason: 'cancelled' };
const MALFORMED: SaslStep = { kind: 'error', reason: 'malformed' };

// draft-murchison-sasl-login §2 says the prompts SHOULD be "User Name" and "Password" and that
// clients ignore them; "Username:" / "Password:" is what deployed servers send and what some
// clients (and MS-XLOGIN) look for.
const LOGIN_USERNAME_CHALLENGE = Buffer.from('Username:').toString('base64');
const LOGIN_PASSWORD_CHALLENGE = Buffer.from('Password:').toString('base64');

/** Strict base64 to UTF-8 text; null when the line is not base64 or not valid UTF-8. */
function decodeText(b64: string): string | null {
  if (typeof b64 !== 'string' || b64.length > MAX_RESPONSE_BASE64 || !BASE64.test(b64)) {
    return null;
  }
  try {
    return utf8.decode(Buffer.from(b64, 'base64'));
  } catch {
    return null;
  }
}

/**
 * Begin an exchange for the mechanism the client named (case-insensitively).
 * initialResponse is the optional base64 argument of AUTH / AUTHENTICATE; RFC 4954 §4 and
 * RFC 4959 §3: a lone "=" stands for an empty initial response.
 */
export function startSasl(mech: string, initialResponse?: string): SaslStep {
  const name = typeof mech === 'string' ? mech.toUpperCase() : '';
  if (name !== 'PLAIN' && name !== 'LOGIN') return { kind: 'error', reason: 'unsupported' };
  if (initialResponse === undefined) {
    return name === 'PLAIN'
      ? // RFC 4616 §2 / RFC 4422 §5: with no initial response the server sends an empty
        // challenge and the client answers with the message.
        { kind: 'challenge', challenge: '', state: { mech: 'PLAIN', stage: 'message' } }
      : {
          kind: 'challenge',
          challenge: LOGIN_USERNAME_CHALLENGE,
          state: { mech: 'LOGIN', stage: 'username' },
        };
  }
  // The initial response is never a cancellation: "*" is only an answer to a challenge, and
  // it is not base64, so it falls through to malformed.
  const decoded = initialResponse === '=' ? '' : decodeText(initialResponse);
  if (decoded === null) return MALFORMED;
  return name === 'PLAIN'
    ? parsePlain(decoded)
    : // LOGIN has no initial response in the draft, but clients send the user name there
      // ("AUTH LOGIN <b64 user>", as in MS-XLOGIN); take it and ask for the password.
      loginUsername(decoded);
}

/**
 * Feed the client's answer to the last challenge. RFC 4954 §4 / RFC 9051 §6.2.2 / RFC 5034
 * §4: a line holding only "*" cancels the exchange. An empty line is an empty response (the
 * "=" convention applies to initial responses only).
 */
export function continueSasl(state: SaslState, clientLineBase64: string): SaslStep {
  if (clientLineBase64 === '*') return CANCEL;
  const decoded = decodeText(clientLineBase64);
  if (decoded === null) return MALFORMED;
  switch (state?.mech) {
    case 'PLAIN':
      return parsePlain(decoded);
    case 'LOGIN':
      if (state.stage === 'username') return loginUsername(decoded);
      return loginPassword(state.username, decoded);
    default:
      return MALFORMED;
  }
}

/**
 * RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd, where each part is
 * 1*SAFE (any UTF-8 but NUL). So exactly two NULs, a non-empty authcid and a non-empty
 * password; the authzid may be absent.
 */
function parsePlain(message: string): SaslStep {
  const parts = message.split('\0');
  if (parts.length !== 3) return MALFORMED;
  const [authzid, authcid, password] = parts;
  if (authcid.length === 0 || password.length === 0) return MALFORMED;
  return { kind: 'done', credentials: { authzid, authcid, password } };
}

function loginUsername(username: string): SaslStep {
  if (username.length === 0 || username.includes('\0')) return MALFORMED;
  return {
    kind: 'challenge',
    challenge: LOGIN_PASSWORD_CHALLENGE,
    state: { mech: 'LOGIN', stage: 'password', username },
  };
}

function loginPassword(username: string, password: string): SaslStep {
  // Same rule as PLAIN's passwd = 1*SAFE: no NUL, not empty.
  if (password.length === 0 || password.includes('\0')) return MALFORMED;
  // LOGIN carries no authorization identity: the user acts as themselves.
  return { kind: 'done', credentials: { authzid: '', authcid: username, password } };
}
