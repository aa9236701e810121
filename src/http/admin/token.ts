// The admin API's token: env LETTERBOX_ADMIN_TOKEN, else the file `[http] admin_token_file`
// (its first line). Neither is ever logged; without both, only admin accounts can sign in.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../../config/load.js';
import type { Config } from '../../config/schema.js';

/** As `[http] metrics_token`: shorter is guessable. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

export const ADMIN_TOKEN_ENV = 'LETTERBOX_ADMIN_TOKEN';

/** The token, or null when none is configured; a ConfigError for one that cannot be used. */
export function loadAdminToken(cfg: Config, env: NodeJS.ProcessEnv = process.env): string | null {
  const fromEnv = env[ADMIN_TOKEN_ENV];
  let token: string;
  let where: string;
  if (fromEnv !== undefined && fromEnv !== '') {
    token = fromEnv.trim();
    where = `$${ADMIN_TOKEN_ENV}`;
  } else if (cfg.http.admin_token_file !== '') {
    const file = isAbsolute(cfg.http.admin_token_file)
      ? cfg.http.admin_token_file
      : resolve(dirname(cfg.file), cfg.http.admin_token_file);
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
