// Loading the TOML config: parse, validate, resolve paths, check that named files exist.
// Every failure is a ConfigError whose message is one line naming the file and the key.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { acmeFiles } from '../acme/files.js';
import { type Config, configSchema } from './schema.js';

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly key?: string,
  ) {
    super(key ? `${file}: ${key}: ${message}` : `${file}: ${message}`);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG_PATH = './data/letterbox.toml';

/** `--config`, else $LETTERBOX_CONFIG, else ./data/letterbox.toml. */
export function configPath(flag?: string): string {
  return resolve(flag ?? process.env.LETTERBOX_CONFIG ?? DEFAULT_CONFIG_PATH);
}

function describeIssue(issue: z.core.$ZodIssue): { key: string; message: string } {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k));
    return { key: keys.join(', '), message: `unknown key${keys.length > 1 ? 's' : ''}` };
  }
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return {
      key: path,
      message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
    };
  }
  return { key: path || '(top level)', message: issue.message.replace(/^Invalid input: /, '') };
}

export function parseConfig(text: string, file: string): Config {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    const m =
      err instanceof TomlError
        ? `line ${err.line}, column ${err.column}: ${err.message.split('\n')[0]}`
        : String(err);
    throw new ConfigError(`invalid TOML: ${m}`, file);
  }
  const r = configSchema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0]!;
    const { key, message } = describeIssue(first);
    throw new ConfigError(message, file, key);
  }
  const base = dirname(file);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const dataDir = abs(r.data.data_dir);
  const acme = r.data.tls.acme;
  const cfg: Config = {
    ...r.data,
    file,
    dataDir,
    tlsFiles: {
      cert: abs(r.data.tls.cert),
      key: abs(r.data.tls.key),
      sni: r.data.tls.sni.map((s) => ({ ...s, cert: abs(s.cert), key: abs(s.key) })),
      ...(acme ? { acme: acmeFiles(dataDir) } : {}),
    },
    ...(acme?.ca_file ? { acmeCaFile: abs(acme.ca_file) } : {}),
  };
  const store = r.data.store;
  if (store.kind === 'postgres' && store.password_file !== undefined) {
    cfg.store = { ...store, password_file: abs(store.password_file) };
  }
  return deepFreeze(cfg);
}

/** Certificate files are needed only when a listener uses TLS; check them then. */
export function checkTlsFiles(cfg: Config): void {
  const needsTls = Object.values(cfg.listeners).some((l) => l.enabled && l.tls !== 'none');
  if (!needsTls) return;
  const check = (path: string, key: string) => {
    if (!existsSync(path)) throw new ConfigError(`file not found: ${path}`, cfg.file, key);
  };
  check(cfg.tlsFiles.cert, 'tls.cert');
  check(cfg.tlsFiles.key, 'tls.key');
  cfg.tlsFiles.sni.forEach((s, i) => {
    check(s.cert, `tls.sni.${i}.cert`);
    check(s.key, `tls.sni.${i}.key`);
  });
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'config file not found (run `letterbox init` first)'
        : `cannot read: ${code}`;
    throw new ConfigError(why, file);
  }
  const cfg = parseConfig(text, file);
  checkTlsFiles(cfg);
  return cfg;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
