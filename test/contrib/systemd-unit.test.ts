// contrib/letterbox.service: the unit systemd would load (systemd-analyze verify, with no
// warning), and the properties the README promises of it: its own user, only
// CAP_NET_BIND_SERVICE, a read-only system but for the data directory, SIGHUP on reload.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BIN } from '../helpers/cli.js';

const UNIT = fileURLToPath(new URL('../../contrib/letterbox.service', import.meta.url));

/** The unit's directives by section, each key with every value it is given. */
async function directives(): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of (await readFile(UNIT, 'utf8')).split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(eq > 0, `not a directive: ${line}`);
    const key = `${section}.${line.slice(0, eq)}`;
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

test('the unit promises what the README says', async () => {
  const d = await directives();
  const one = (k: string) => {
    const v = d.get(k);
    assert.equal(v?.length, 1, `${k}: ${JSON.stringify(v)}`);
    return v![0];
  };
  assert.equal(one('Service.User'), 'letterbox');
  assert.equal(one('Service.Group'), 'letterbox');
  assert.equal(one('Service.AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  assert.equal(one('Service.CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
  assert.equal(one('Service.NoNewPrivileges'), 'true');
  assert.equal(one('Service.ProtectSystem'), 'strict');
  assert.equal(one('Service.ProtectHome'), 'true');
  assert.equal(one('Service.PrivateTmp'), 'true');
  assert.equal(one('Service.ReadWritePaths'), '/var/lib/letterbox');
  assert.equal(one('Service.StateDirectory'), 'letterbox');
  assert.ok(
    d.get('Service.Environment')!.includes('LETTERBOX_CONFIG=/var/lib/letterbox/letterbox.toml'),
  );
  // serve.ts: SIGHUP reloads the certificates, SIGTERM stops after the grace period.
  assert.equal(one('Service.ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.equal(one('Service.KillSignal'), 'SIGTERM');
  assert.match(one('Service.ExecStart')!, /\/letterbox serve$/);
  // V8 needs W+X memory: this one would stop the process at its first JIT compile.
  assert.equal(d.has('Service.MemoryDenyWriteExecute'), false);
  assert.equal(one('Install.WantedBy'), 'multi-user.target');
});

test('systemd-analyze verify loads it without a warning', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-unit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // verify checks that ExecStart's program exists: point it at this checkout's command.
  const unit = (await readFile(UNIT, 'utf8')).replace(
    /^ExecStart=\S+ serve$/m,
    `ExecStart=${process.execPath} ${BIN} serve`,
  );
  const file = join(dir, 'letterbox.service');
  await writeFile(file, unit);
  const r = await new Promise<{ code: number; stderr: string; missing: boolean }>((resolve) => {
    execFile('systemd-analyze', ['verify', file], (err, _stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: unknown }) | null;
      resolve({
        code: typeof e?.code === 'number' ? e.code : e ? 1 : 0,
        stderr,
        missing: e?.code === 'ENOENT',
      });
    });
  });
  assert.ok(!r.missing, 'systemd-analyze is not installed (Debian package systemd, in .ci/run)');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'no warnings');
});
