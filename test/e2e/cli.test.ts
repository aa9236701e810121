// The operator contract of the CLI: commands, --json output, exit codes and one-line errors.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.js';

function assertOneLineError(stderr: string, ...parts: string[]): void {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('npm warn'));
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  for (const p of parts) assert.ok(lines[0]!.includes(p), `"${lines[0]}" should mention ${p}`);
  assert.ok(!/\n\s+at /.test(stderr), 'no stack trace');
}

describe('letterbox CLI', () => {
  let dir: string;
  let cfg: string;
  const lb = (args: string[], input?: string) => runCli(['--config', cfg, ...args], { input });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-cli-'));
    cfg = join(dir, 'data', 'letterbox.toml');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('init writes a commented config, a certificate and the store', async () => {
    const r = await runCli(['init', '--dir', join(dir, 'data'), '--hostname', 'mail.example.test']);
    assert.equal(r.code, 0, r.stderr);
    const toml = await readFile(cfg, 'utf8');
    assert.match(toml, /^# Letterbox configuration/m);
    assert.match(toml, /hostname = "mail.example.test"/);
    assert.match(toml, /port = 2525/);
    assert.match(toml, /port = 2993/);
    assert.ok(existsSync(join(dir, 'data', 'tls', 'cert.pem')));
    assert.ok(existsSync(join(dir, 'data', 'tls', 'key.pem')));
    assert.ok(existsSync(join(dir, 'data', 'letterbox.db')));
    const again = await runCli(['init', '--dir', join(dir, 'data')]);
    assert.equal(again.code, 1);
    assertOneLineError(again.stderr, 'already exists');
  });

  test('--version, and a bare command is bad usage (exit 2) with the help on stderr', async () => {
    const pkg = JSON.parse(
      await readFile(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    const v = await runCli(['--version']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `${pkg.version}\n`);
    for (const args of [[], ['domain'], ['user'], ['user', 'app-password']]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `letterbox ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^Usage: letterbox/, args.join(' '));
      assert.equal(r.stdout, '');
    }
    for (const args of [['--help'], ['help'], ['domain', '--help'], ['help', 'domain']]) {
      const r = await runCli(args);
      assert.equal(r.code, 0, `letterbox ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: letterbox/);
    }
  });

  test('init without --hostname takes LETTERBOX_HOSTNAME (else the machine name), and says so', async () => {
    const r = await runCli(['init', '--dir', join(dir, 'env')], {
      env: { LETTERBOX_HOSTNAME: 'mx.from-env.test' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /hostname: +mx\.from-env\.test \(from LETTERBOX_HOSTNAME;/);
    const toml = await readFile(join(dir, 'env', 'letterbox.toml'), 'utf8');
    assert.match(toml, /^hostname = "mx\.from-env\.test"$/m);
    const bad = await runCli(['init', '--dir', join(dir, 'env-bad')], {
      env: { LETTERBOX_HOSTNAME: 'not a host' },
    });
    assert.equal(bad.code, 2);
    assertOneLineError(bad.stderr, 'LETTERBOX_HOSTNAME', 'not a host', '--hostname');
    const machine = await runCli(['init', '--dir', join(dir, 'machine')], {
      env: { LETTERBOX_HOSTNAME: '' },
    });
    assert.equal(machine.code, 0, machine.stderr);
    assert.match(machine.stdout, /hostname: +\S+ \(from (the machine's|a fallback)/);
  });

  test('init --standard-ports writes the standard ports', async () => {
    const r = await runCli([
      'init',
      '--dir',
      join(dir, 'std'),
      '--hostname',
      'mx.example.test',
      '--standard-ports',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const toml = await readFile(join(dir, 'std', 'letterbox.toml'), 'utf8');
    for (const p of [25, 587, 465, 143, 993, 110, 995])
      assert.match(toml, new RegExp(`port = ${p}\\n`));
  });

  test('domain, user, alias and quota commands', async () => {
    assert.equal((await lb(['domain', 'add', 'example.test'])).code, 0);
    const add = await lb(
      ['user', 'add', 'Alice@example.test', '--password-stdin'],
      's3cret pass\n',
    );
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /added user alice@example.test/);

    const list = await lb(['user', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const users = JSON.parse(list.stdout);
    assert.equal(users.length, 1);
    assert.equal(users[0].address, 'alice@example.test');
    assert.deepEqual(
      users[0].mailboxes.map((m: { name: string }) => m.name),
      ['INBOX', 'Archive', 'Drafts', 'Junk', 'Sent', 'Trash'],
    );

    const dup = await lb(['user', 'add', 'alice@example.test', '--password-stdin'], 'xxxxxxxx\n');
    assert.equal(dup.code, 1);
    assertOneLineError(dup.stderr, 'alice@example.test');
    const foreign = await lb(['user', 'add', 'bob@nowhere.test', '--password-stdin'], 'xxxxxxxx\n');
    assert.equal(foreign.code, 1);
    assertOneLineError(foreign.stderr, 'domain add');

    assert.equal((await lb(['quota', 'set', 'alice@example.test', '2G'])).code, 0);
    const bad = await lb(['quota', 'set', 'alice@example.test', 'lots']);
    assert.equal(bad.code, 2);
    assertOneLineError(bad.stderr, 'lots');
    assert.equal(
      JSON.parse((await lb(['user', 'list', '--json'])).stdout)[0].quotaBytes,
      2 * 1024 ** 3,
    );

    assert.equal(
      (await lb(['alias', 'add', 'team@example.test', 'alice@example.test', 'x@remote.test'])).code,
      0,
    );
    assert.equal((await lb(['alias', 'add', '@example.test', 'alice@example.test'])).code, 0);
    const aliases = JSON.parse((await lb(['alias', 'list', '--json'])).stdout);
    assert.deepEqual(aliases, [
      { address: '@example.test', targets: ['alice@example.test'] },
      { address: 'team@example.test', targets: ['alice@example.test', 'x@remote.test'] },
    ]);
    assert.equal((await lb(['alias', 'remove', '@example.test'])).code, 0);
    assert.equal((await lb(['alias', 'remove', '@example.test'])).code, 1);

    assert.equal(
      (await lb(['user', 'passwd', 'alice@example.test', '--password-stdin'], 'new pass\n')).code,
      0,
    );
    const inUse = await lb(['domain', 'remove', 'example.test']);
    assert.equal(inUse.code, 1);
    assertOneLineError(inUse.stderr, 'example.test');
    assert.equal((await lb(['user', 'remove', 'alice@example.test', '--yes'])).code, 0);
    assert.deepEqual(JSON.parse((await lb(['user', 'list', '--json'])).stdout), []);
    assert.deepEqual(
      JSON.parse((await lb(['domain', 'list', '--json'])).stdout).map(
        (d: { name: string }) => d.name,
      ),
      ['example.test'],
    );
  });

  test('LETTERBOX_CONFIG names the config when --config is absent', async () => {
    const r = await runCli(['domain', 'list', '--json'], { env: { LETTERBOX_CONFIG: cfg } });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Array.isArray(JSON.parse(r.stdout)));
  });

  test('bad arguments: exit 2 and one line', async () => {
    for (const args of [
      ['frobnicate'],
      ['user', 'add'],
      ['domain', 'add', 'bad domain!'],
      ['user', 'list', '--bogus'],
    ]) {
      const r = await lb(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
    }
  });

  test('bad config: unknown key, wrong type, missing certificate, missing file', async () => {
    const base = await readFile(cfg, 'utf8');
    const cases: Array<[string, string[]]> = [
      [
        base.replace('[limits]', '[limits]\nmax_conections_per_ip = 3'),
        ['limits.max_conections_per_ip', 'unknown key'],
      ],
      [
        base.replace('max_connections_per_ip = 50', 'max_connections_per_ip = "fifty"'),
        ['limits.max_connections_per_ip'],
      ],
      [
        base.replace('cert = "tls/cert.pem"', 'cert = "tls/missing.pem"'),
        ['tls.cert', 'missing.pem'],
      ],
      [`${base}\n[listeners.imap\n`, ['invalid TOML', 'line']],
    ];
    for (const [text, parts] of cases) {
      const file = join(dir, 'data', 'bad.toml');
      await writeFile(file, text);
      const r = await runCli(['--config', file, 'user', 'list']);
      assert.equal(r.code, 2, r.stderr);
      assertOneLineError(r.stderr, file, ...parts);
    }
    const missing = await runCli(['--config', join(dir, 'nope.toml'), 'user', 'list']);
    assert.equal(missing.code, 2);
    assertOneLineError(missing.stderr, 'nope.toml', 'not found');
  });
});
