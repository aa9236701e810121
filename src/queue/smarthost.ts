// Smarthost routes from `[[queue.routes]]`: for those who relay through a provider. Read once
// at startup into plain values (the AUTH credentials from their file), so a missing or bad
// file is a config error naming the key, not a failure at the first delivery.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { TlsPolicy } from './types.js';

export interface SmarthostRoute {
  /** '*' for all outbound mail, else one destination domain (lowercase, exact). */
  domain: string;
  /** Tried in this order (failover). */
  hosts: Array<{ name: string; port: number }>;
  tls: TlsPolicy;
  auth?: { user: string; password: string };
}

/** An auth file: `user:password` on its first line; the password may hold colons. */
const MAX_AUTH_FILE = 4096;

export function smarthostRoutes(cfg: Pick<Config, 'file' | 'queue'>): SmarthostRoute[] {
  const base = dirname(cfg.file);
  return cfg.queue.routes.map((r, i) => {
    const key = `queue.routes.${i}`;
    const tls: TlsPolicy =
      r.tls === 'implicit' ? 'implicit' : r.tls === 'starttls' ? 'required' : 'opportunistic';
    const defaultPort = r.port ?? (r.tls === 'implicit' ? 465 : 587);
    const hosts = (Array.isArray(r.host) ? r.host : [r.host]).map((h) => {
      const parsed = parseHostPort(h, defaultPort);
      if (!parsed) throw new ConfigError(`not a host or host:port: ${h}`, cfg.file, `${key}.host`);
      return parsed;
    });
    const route: SmarthostRoute = { domain: r.domain, hosts, tls };
    if (r.auth_file !== undefined) {
      const file = isAbsolute(r.auth_file) ? r.auth_file : resolve(base, r.auth_file);
      route.auth = readAuthFile(file, cfg.file, `${key}.auth_file`);
    }
    return route;
  });
}

function readAuthFile(file: string, cfgFile: string, key: string) {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`,
      cfgFile,
      key,
    );
  }
  if (text.length > MAX_AUTH_FILE) throw new ConfigError(`${file}: too long`, cfgFile, key);
  const line = text.split('\n', 1)[0]!.replace(/\r$/, '');
  const colon = line.indexOf(':');
  if (colon <= 0 || colon === line.length - 1) {
    throw new ConfigError(`${file}: expected "user:password" on the first line`, cfgFile, key);
  }
  return { user: line.slice(0, colon), password: line.slice(colon + 1) };
}

/** "name", "name:port", "[v6]", "[v6]:port" or a bare IPv6 address. */
export function parseHostPort(
  text: string,
  defaultPort: number,
): { name: string; port: number } | null {
  const s = text.trim();
  let name = s;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return null;
    name = s.slice(1, end);
    const rest = s.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return null;
      portText = rest.slice(1);
    }
    if (isIP(name) === 0) return null;
  } else if (isIP(s) === 6) {
    name = s;
  } else {
    const colon = s.lastIndexOf(':');
    if (colon >= 0) {
      name = s.slice(0, colon);
      portText = s.slice(colon + 1);
    }
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) return null;
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return null;
    port = Number(portText);
    if (port < 1 || port > 65535) return null;
  }
  return { name: name.toLowerCase().replace(/\.$/, ''), port };
}
