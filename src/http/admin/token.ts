// The admin API's token: env LETTERBOX_ADMIN_TOKEN, else the file `[http] admin_token_file`
// (its first line). Neither is ever logged; without both, only admin accounts can sign in.
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../../config/load.js';
import type { Config } from '../../config/schema.js';

/** As `[http] metrics_token`: shorter is guessable. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

export const ADMIN_TOKEN_ENV = 'LETTERBOX_ADMIN_TOKEN';

/** The token file's absolute path, or null when none is configured. */
function tokenFile(cfg: Config): string | null {
  const f = cfg.http.admin_token_file;
  if (f === '') return null;
  return isAbsolute(f) ? f : resolve(dirname(cfg.file), f);
}

/**
 * Why the token file is unsafe to keep as it is (others than its owner may read it), or null.
 * The env variable, when set, is used instead and the file is not looked at.
 */
export function tokenFileWarning(cfg: Config, env: NodeJS.ProcessEnv = process.env): string | null {
  const file = tokenFile(cfg);
  if (file === null || (env[ADMIN_TOKEN_ENV] ?? '') !== '') return null;
  try {
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) === 0) return null;
    return `the admin token file ${file} may be read by others (mode ${mode.toString(8)}): chmod 600 it`;
  } catch {
    return null; // loadAdminToken says why it cannot be read
  }
}

/** The token, or null when none is configured; a ConfigError for one that cannot be used. */
export function loadAdminToken(cfg: Config, env: NodeJS.ProcessEnv = process.env): string | null {
  const fromEnv = env[ADMIN_TOKEN_ENV];
  let token: string;
  let where: string;
  if (fromEnv !== undefined && fromEnv !== '') {
    token = fromEnv.trim();
    where = `$${ADMIN_TOKEN_ENV}`;
  } else if (tokenFile(cfg) !== null) {
    const file = tokenFile(cfg)!;
    try {
      token = (readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '').trim();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new ConfigError(
        `cannot read the admin token file ${file}: ${code}`,
        cfg.file,
        'http.admin_token_file',
      );
    }
    where = file;
  } else return null;
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new ConfigError(
      `the admin token in ${where} is shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters`,
      cfg.file,
      'http.admin_token_file',
    );
  }
  // RFC 6750 §2.1 b64token: what an Authorization: Bearer field can carry.
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
    throw new ConfigError(
      `the admin token in ${where} has characters a bearer token cannot carry (letters, digits, -._~+/ and trailing =)`,
      cfg.file,
      'http.admin_token_file',
    );
  }
  return token;
}
