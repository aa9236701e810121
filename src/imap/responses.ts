/**
 * IMAP responses: tagged completions, untagged lines, and the one place where typed errors
 * become protocol answers (RFC 9051 §7.1 response codes).
 *
 *   syntax error (ImapParseError)      -> `tag BAD text` (or the NO [code] it carries)
 *   ImapError (a handler's refusal)     -> `tag NO|BAD [CODE] text`
 *   StoreError                          -> `tag NO [NONEXISTENT|ALREADYEXISTS|OVERQUOTA|...]`
 *   anything else (a bug)               -> `tag NO [SERVERBUG]`, details only in the log
 */
import { isStoreError, type StoreErrorCode } from '../store/errors.js';

export type Status = 'OK' | 'NO' | 'BAD';

export interface Completion {
  status: Status;
  /** Response code without brackets, e.g. 'READ-WRITE', 'APPENDUID 3 7'. */
  code?: string;
  text: string;
}

export const ok = (text: string, code?: string): Completion => ({ status: 'OK', code, text });

/** A refusal raised by a handler; the dispatcher turns it into the tagged answer. */
export class ImapError extends Error {
  constructor(
    readonly status: 'NO' | 'BAD',
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ImapError';
  }
}

export const no = (code: string | undefined, text: string): ImapError =>
  new ImapError('NO', code, text);
export const bad = (text: string, code?: string): ImapError => new ImapError('BAD', code, text);

// RFC 9051 §7.1 and RFC 9208 §4.3 (OVERQUOTA), RFC 5530 (LIMIT, CANNOT, ...).
const STORE_CODES: Record<StoreErrorCode, string> = {
  NOT_FOUND: 'NONEXISTENT',
  EXISTS: 'ALREADYEXISTS',
  INVALID: 'CANNOT',
  IN_USE: 'INUSE',
  OVERQUOTA: 'OVERQUOTA',
  NOT_ALLOWED: 'CANNOT',
  LIMIT: 'LIMIT',
  // RFC 5530 §3: temporary failure because a subsystem is down.
  UNAVAILABLE: 'UNAVAILABLE',
};

/**
 * The completion for an error thrown while running a command; `internal` is true when it was
 * not an expected refusal (the caller logs it).
 */
export function errorCompletion(err: unknown): { completion: Completion; internal: boolean } {
  if (err instanceof ImapError) {
    return {
      completion: { status: err.status, code: err.code, text: err.message },
      internal: false,
    };
  }
  if (isStoreError(err)) {
    return {
      completion: { status: 'NO', code: STORE_CODES[err.code], text: safeText(err.message) },
      internal: false,
    };
  }
  return {
    completion: { status: 'NO', code: 'SERVERBUG', text: 'Internal error, see the server log' },
    internal: true,
  };
}

/** Text safe on a response line: printable ASCII, bounded. */
export function safeText(text: string): string {
  const t = text.replace(/[^\x20-\x7e]/g, '?').slice(0, 300);
  return t.length > 0 ? t : 'Done';
}

/** `tag STATUS [CODE] text\r\n`. */
export function formatTagged(tag: string, c: Completion): Buffer {
  const code = c.code ? `[${c.code}] ` : '';
  return Buffer.from(`${tag} ${c.status} ${code}${safeText(c.text)}\r\n`, 'latin1');
}

/** `* STATUS [CODE] text\r\n` (untagged OK/NO/BAD/BYE/PREAUTH). */
export function formatUntaggedStatus(
  status: Status | 'BYE',
  code: string | undefined,
  text: string,
): Buffer {
  const c = code ? `[${code}] ` : '';
  return Buffer.from(`* ${status} ${c}${safeText(text)}\r\n`, 'latin1');
}
