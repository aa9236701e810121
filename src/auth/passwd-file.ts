// Dovecot's passwd-file, read for `letterbox import users` (issue 18 item 3):
//
//   user:password:uid:gid:gecos:home:shell:extra_fields
//
// one account a line; empty lines and lines starting with # are skipped; only the first two
// fields are required. The password is `{SCHEME}hash` (foreign-hash.ts) or, without a
// prefix, a hash in the file's default scheme (Dovecot's default_pass_scheme, given here as
// `defaultScheme`). uid, gid, gecos, home and shell say where Dovecot kept the mail: Letterbox
// keeps it in its own store, so they are read and dropped. Extra fields are space-separated
// `key=value` (or a bare `key`); `userdb_` marks userdb fields. Those with a meaning here are
// mapped (the storage quota, nologin), every other one is reported as not carried over.
//
// Pure: text in, entries and problems out, each with its line number.
import { parseForeignHash } from './foreign-hash.js';
import { parseHash } from './password.js';

export interface PasswdEntry {
  line: number;
  /** The login, lower-cased, with the domain added when the file had none. */
  address: string;
  /** As it will be stored: `{SCHEME}...` or the server's own `$scrypt$...`. */
  passwordHash: string;
  /** From `userdb_quota_rule=*:storage=N` (null: unlimited); undefined when the line sets none. */
  quotaBytes?: number | null;
  /** From `nologin` (passdb): the account is created disabled. */
  disabled: boolean;
  /** Extra fields read but not carried over (no such concept here), by name. */
  ignored: string[];
}

export interface PasswdProblem {
  line: number;
  reason: string;
}

export interface PasswdOptions {
  /** Appended as `@domain` to users without one. */
  domain?: string;
  /** The scheme of passwords without a `{SCHEME}` prefix (e.g. SHA512-CRYPT). */
  defaultScheme?: string;
}

const UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
};

// A login as RFC 5321 allows it (§4.5.3.1: local part at most 64 octets, domain 255) without
// the characters the file format or the rest of the server gives a meaning.
const LOCAL_PART = /^[^\s@:"\\<>()[\],;]{1,64}$/;
const DOMAIN =
  /^(?=.{1,255}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export function parsePasswdFile(
  text: string,
  opts: PasswdOptions = {},
): { entries: PasswdEntry[]; problems: PasswdProblem[] } {
  const entries: PasswdEntry[] = [];
  const problems: PasswdProblem[] = [];
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const raw = lines[i]!;
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) continue;
    const r = parseLine(raw, line, opts);
    if ('reason' in r) {
      problems.push(r);
      continue;
    }
    const first = seen.get(r.address);
    if (first !== undefined) {
      problems.push({ line, reason: `${r.address} is already on line ${first}` });
      continue;
    }
    seen.set(r.address, line);
    entries.push(r);
  }
  return { entries, problems };
}

function parseLine(raw: string, line: number, opts: PasswdOptions): PasswdEntry | PasswdProblem {
  const fields = raw.split(':');
  // The extra fields are the rest of the line: their values may hold ':' (quota rules do).
  const [user = '', password = ''] = fields;
  const extra = fields.length > 7 ? fields.slice(7).join(':') : '';
  const address = loginOf(user.trim(), opts.domain);
  if (typeof address !== 'string') return { line, reason: address.reason };
  if (password === '') {
    return { line, reason: `${address}: no password (Dovecot would take any or none)` };
  }
  let stored = password;
  if (!password.startsWith('{') && parseHash(password) === null) {
    if (opts.defaultScheme === undefined) {
      return {
        line,
        reason: `${address}: the password has no {SCHEME} prefix; give the file's default with --scheme`,
      };
    }
    stored = `{${opts.defaultScheme}}${password}`;
  }
  if (parseHash(stored) === null) {
    const p = parseForeignHash(stored);
    if (!p.ok) return { line, reason: `${address}: ${p.reason}` };
  }
  const entry: PasswdEntry = { line, address, passwordHash: stored, disabled: false, ignored: [] };
  for (const field of extra.split(/\s+/).filter((f) => f !== '')) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? '' : field.slice(eq + 1);
    if (key === 'userdb_quota_rule' || key === 'userdb_quota_rule1') {
      const bytes = storageQuota(value);
      if (bytes !== undefined) entry.quotaBytes = bytes;
      else entry.ignored.push(field);
    } else if (key === 'nologin' && !/^(n|no|0|false)$/i.test(value)) {
      entry.disabled = true;
    } else {
      entry.ignored.push(key);
    }
  }
  return entry;
}

function loginOf(user: string, domain?: string): string | { reason: string } {
  const at = user.lastIndexOf('@');
  const local = at < 0 ? user : user.slice(0, at);
  const dom = at < 0 ? domain : user.slice(at + 1);
  if (dom === undefined) {
    return { reason: `"${user}" has no domain; give one with --domain` };
  }
  if (!LOCAL_PART.test(local) || !DOMAIN.test(dom)) {
    return { reason: `"${user}" is not a valid login address` };
  }
  return `${local}@${dom}`.toLowerCase();
}

/**
 * Dovecot's quota rule for all mailboxes, `*:storage=1G` or `*:bytes=N`, as bytes (null: 0,
 * which Dovecot reads as unlimited). `storage=N` without a unit is in kilobytes, `bytes=N` in
 * bytes; units b, k, M, G, T. Undefined for what has no equivalent here (a message count, one
 * mailbox's rule, a relative `+10%`, `ignore`): the caller reports it as not carried over.
 */
function storageQuota(rule: string): number | null | undefined {
  const m = /^\*:(storage|bytes)=(\d+)([bkmgt]?)$/i.exec(rule);
  if (m === null) return undefined;
  const unit = m[3]!.toUpperCase();
  const factor = unit === '' ? (m[1]!.toLowerCase() === 'storage' ? 1024 : 1) : UNITS[unit]!;
  const n = Number(m[2]) * factor;
  if (n === 0) return null;
  return Number.isSafeInteger(n) ? n : undefined;
}
