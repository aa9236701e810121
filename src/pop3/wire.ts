// POP3 wire syntax: command lines in, status lines out. No I/O and no state here.

export interface CommandLine {
  /** Upper-cased keyword (RFC 1939 §3: keywords are case-insensitive). */
  keyword: string;
  /** Arguments split on spaces (RFC 1939 §3: separated by a single SPACE; we accept runs). */
  args: string[];
  /**
   * Everything after the keyword and its space, untouched: RFC 1939 §7 lets a server take
   * spaces in PASS as part of the password, since PASS has exactly one argument.
   */
  rest: string;
}

const utf8 = new TextDecoder('utf-8');

/**
 * Splits a command line (without its CRLF). Never throws. null for an empty line, which is
 * no command at all. Bytes that are not UTF-8 decode to U+FFFD and then match nothing.
 */
export function parseCommandLine(line: Buffer): CommandLine | null {
  const text = utf8.decode(line);
  const sp = text.indexOf(' ');
  const keyword = (sp < 0 ? text : text.slice(0, sp)).toUpperCase();
  if (keyword.length === 0) return null;
  const rest = sp < 0 ? '' : text.slice(sp + 1);
  const args = rest.split(' ').filter((a) => a.length > 0);
  return { keyword, args, rest };
}

/**
 * Response codes: RFC 2449 §8 (IN-USE, LOGIN-DELAY), RFC 3206 (SYS/TEMP, SYS/PERM, AUTH).
 * They go in brackets right after "-ERR" and let a client tell "wrong password" from
 * "try again later" without parsing the text.
 */
export type RespCode = 'IN-USE' | 'LOGIN-DELAY' | 'SYS/TEMP' | 'SYS/PERM' | 'AUTH';

export function okLine(text: string): Buffer {
  return Buffer.from(text.length > 0 ? `+OK ${text}\r\n` : '+OK\r\n');
}

export function errLine(text: string, code?: RespCode): Buffer {
  return Buffer.from(code ? `-ERR [${code}] ${text}\r\n` : `-ERR ${text}\r\n`);
}

/** RFC 1939 §3: a multi-line response ends with a line holding a single "." */
export const TERMINATOR = Buffer.from('.\r\n');

/**
 * A message number argument (RFC 1939 §3: msg), digits only; null when malformed. Range
 * checks belong to the maildrop.
 */
export function parseNumber(arg: string | undefined): number | null {
  if (arg === undefined || !/^[0-9]{1,9}$/.test(arg)) return null;
  return Number(arg);
}
