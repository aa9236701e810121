// Starts the real server in-process on loopback ephemeral ports, with a fresh data dir, a
// self-signed certificate and the given protocol engines. For end-to-end tests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword, TEST_SCRYPT_PARAMS } from '../../src/auth/password.js';
import { parseConfig } from '../../src/config/load.js';
import type { ListenerName } from '../../src/config/schema.js';
import { LISTENER_NAMES } from '../../src/config/schema.js';
import { type Logger, silentLogger } from '../../src/log.js';
import { writeSelfSigned } from '../../src/net/selfsigned.js';
import {
  PROTOCOLS,
  type ProtocolFactory,
  type RunningServer,
  type ServerInternals,
  startServer,
} from '../../src/server.js';
import { startPostgres, type TestPostgres } from './postgres.js';

export interface TestServer {
  server: RunningServer;
  dir: string;
  /** Port of a listener by name. */
  port(name: ListenerName): number;
  /** Adds example.test (if needed) and an account with this password. */
  addUser(address: string, password: string): Promise<number>;
  /** Stops the server and starts it again on the same directory and config (new ports). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  /** Listener names to enable (others are disabled). */
  listeners: ListenerName[];
  /** Protocol engines to register for this run, by listener name. */
  protocols?: Partial<Record<ListenerName, ProtocolFactory>>;
  /** Extra TOML appended to the config (sections must not repeat the generated ones). */
  extraToml?: string;
  /** More keys of the `[auth]` table (which the helper writes itself). */
  authToml?: string;
  allowPlaintext?: boolean;
  /**
   * `[auth] plaintext_networks`; default none, so that tests on loopback see the RFC 8314
   * rules unless they ask otherwise.
   */
  plaintextNetworks?: string[];
  /** Default "localhost". */
  hostname?: string;
  /** Where the server logs (default nowhere), for tests that check a log line. */
  log?: Logger;
  /** What the test replaces of the outside world (MTA-STS port, trusted CAs). */
  internals?: ServerInternals;
  /** A `[store]` section (several servers over one PostgreSQL database); else storeToml(). */
  storeToml?: string;
}

let postgres: Promise<TestPostgres> | undefined;

/**
 * LETTERBOX_TEST_STORE=postgres runs the server over PostgreSQL (issue 17): one cluster per
 * test process (test/helpers/postgres.ts), a database per server. Default: SQLite in the dir.
 */
async function storeToml(): Promise<string> {
  if (process.env.LETTERBOX_TEST_STORE !== 'postgres') return '';
  postgres ??= startPostgres();
  const url = await (await postgres).createDatabase();
  return `\n[store]\nkind = "postgres"\nurl = ${JSON.stringify(url)}\npool_size = 4\n`;
}

export async function startTestServer(opts: TestServerOptions): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'lb-e2e-'));
  await writeSelfSigned(dir, 'localhost');
  Object.assign(PROTOCOLS, opts.protocols ?? {});
  const listeners = LISTENER_NAMES.map(
    (n) =>
      `[listeners.${n}]\nenabled = ${opts.listeners.includes(n)}\naddress = "127.0.0.1"\nport = 0\n`,
  ).join('\n');
  const toml = `hostname = "${opts.hostname ?? 'localhost'}"
[log]
level = "silent"
[auth]
allow_plaintext = ${opts.allowPlaintext === true}
plaintext_networks = ${JSON.stringify(opts.plaintextNetworks ?? [])}
${opts.authToml ?? ''}
${listeners}
${opts.extraToml ?? ''}
${/^\[queue\]/m.test(opts.extraToml ?? '') ? '' : '[queue]\ndeliver = false\n'}`;
  const cfg = parseConfig(
    toml + (opts.storeToml ?? (await storeToml())),
    join(dir, 'letterbox.toml'),
  );
  let server = await startServer(cfg, opts.log ?? silentLogger(), opts.internals);
  return {
    get server() {
      return server;
    },
    dir,
    port(name) {
      const l = server.listeners.find((x) => x.name === name);
      if (!l) throw new Error(`listener ${name} is not running`);
      return l.port;
    },
    async addUser(address, password) {
      const domain = address.slice(address.indexOf('@') + 1);
      const store = server.ctx.store;
      if (!(await store.isLocalDomain(domain))) await store.addDomain(domain);
      const a = await store.createAccount({
        address,
        passwordHash: await hashPassword(password, TEST_SCRYPT_PARAMS),
      });
      return a.id;
    },
    async restart() {
      await server.stop();
      server = await startServer(cfg, opts.log ?? silentLogger(), opts.internals);
    },
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
