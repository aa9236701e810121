// Debian's pebble (the ACME test CA) on loopback for the [tls.acme] tests: its own HTTPS
// certificate (self-signed for localhost and 127.0.0.1, trusted by Letterbox's ACME client
// through `ca_file` only), real HTTP-01 and TLS-ALPN-01 validation against the given ports, no sleeps, no
// rejected nonces. Missing pebble fails the test (it is in .ci/run).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { generateSelfSigned } from '../../src/net/selfsigned.js';

import { freePort } from './free-port.js';

export function requirePebble(): void {
  if (spawnSync('pebble', ['-h']).error) {
    assert.fail('pebble must be installed (it is in .ci/run): apt-get install pebble');
  }
}

/** Whether something accepts TCP connections on the loopback port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface Pebble {
  /** The directory URL for `[tls.acme] directory`. */
  directory: string;
  /** pebble's HTTPS certificate, for `[tls.acme] ca_file`. */
  caFile: string;
  /**
   * Start it (again); `httpPort` is where it validates HTTP-01 (Letterbox's http listener),
   * `tlsPort` where it validates TLS-ALPN-01 (an implicit-TLS listener; default: a free port).
   */
  start(httpPort: number, tlsPort?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A pebble whose files live in `dir`; not started yet (so a test can start it late). */
export async function preparePebble(dir: string): Promise<Pebble> {
  requirePebble();
  const port = await freePort();
  const pair = await generateSelfSigned('localhost');
  const caFile = join(dir, 'pebble-cert.pem');
  await writeFile(caFile, pair.cert);
  await writeFile(join(dir, 'pebble-key.pem'), pair.key);
  let child: ChildProcess | undefined;
  const directory = `https://127.0.0.1:${port}/dir`;
  return {
    directory,
    caFile,
    async start(httpPort, tlsPort) {
      const config = join(dir, 'pebble.json');
      await writeFile(
        config,
        JSON.stringify({
          pebble: {
            listenAddress: `127.0.0.1:${port}`,
            managementListenAddress: `127.0.0.1:${await freePort()}`,
            certificate: caFile,
            privateKey: join(dir, 'pebble-key.pem'),
            httpPort,
            tlsPort: tlsPort ?? (await freePort()),
            ocspResponderURL: '',
            externalAccountBindingRequired: false,
          },
        }),
      );
      const c = spawn('pebble', ['-config', config], {
        env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
        stdio: 'ignore',
      });
      child = c;
      // Started means listening: a server started right after must not find the CA still
      // coming up (its next attempt may be minutes away with the default timers).
      const deadline = Date.now() + 30_000;
      while (!(await accepts(port))) {
        if (c.exitCode !== null) assert.fail(`pebble exited with ${c.exitCode}`);
        if (Date.now() > deadline) assert.fail('pebble did not listen within 30 s');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill();
      await exited;
    },
  };
}
