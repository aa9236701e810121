// The account commands of the CLI (issue 16, item 5): the minimum password length, disable /
// enable / unlock, app passwords, alias target checks and loop warnings, and `user remove`
// asking first. Exit codes and one-line errors as in cli.test.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN, runCli } from '../helpers/cli.js';
import { requireTool } from './smtp-clients.js';

function assertOneLineError(stderr: string, ...parts: string[]): void {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('npm warn'));
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  for (const p of parts) assert.ok(lines[0]!.includes(p), `"${lines[0]}" should mention ${p}`);
  assert.ok(!/\n\s+at /.test(stderr), 'no stack trace');
}

describe('letterbox CLI: accounts', () => {
  let dir: string;
  let cfg: string;
  const lb = (args: string[], input?: string) => runCli(['--config', cfg, ...args], { input });
  const users = async () =>
    JSON.parse((await lb(['user', 'list', 'admin.test', '--json'])).stdout) as Array<{
      address: string;
      disabled: boolean;
    }>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-cli-acct-'));
    cfg = join(dir, 'data', 'letterbox.toml');
    const init = await runCli(['init', '--dir', join(dir, 'data'), '--hostname', 'mx.admin.test']);
    assert.equal(init.code, 0, init.stderr);
    assert.equal((await lb(['domain', 'add', 'admin.test'])).code, 0);
    const add = await lb(['user', 'add', 'dave@admin.test', '--password-stdin'], 'long enough\n');
    assert.equal(add.code, 0, add.stderr);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('[auth] min_password_length (8) for user add and passwd, counted in characters', async () => {
    const short = await lb(['user', 'add', 'erin@admin.test', '--password-stdin'], 'short\n');
    assert.equal(short.code, 2);
    assertOneLineError(short.stderr, 'at least 8', 'min_password_length');
    const passwd = await lb(['user', 'passwd', 'dave@admin.test', '--password-stdin'], 'seven77\n');
    assert.equal(passwd.code, 2);
    assertOneLineError(passwd.stderr, 'at least 8');
    // 8 characters of 2 bytes each is enough.
    const wide = await lb(['user', 'passwd', 'dave@admin.test', '--password-stdin'], 'éééééééé\n');
    assert.equal(wide.code, 0, wide.stderr);
  });

  test('user disable, enable and unlock', async () => {
    assert.equal((await lb(['user', 'disable', 'dave@admin.test'])).code, 0);
    assert.equal((await users())[0]!.disabled, true);
    assert.match((await lb(['user', 'list', 'admin.test'])).stdout, /dave@admin\.test .*disabled/);
    assert.equal((await lb(['user', 'enable', 'dave@admin.test'])).code, 0);
    assert.equal((await users())[0]!.disabled, false);
    const unlock = await lb(['user', 'unlock', 'dave@admin.test']);
    assert.equal(unlock.code, 0, unlock.stderr);
    const nobody = await lb(['user', 'unlock', 'nobody@admin.test']);
    assert.equal(nobody.code, 1);
    assertOneLineError(nobody.stderr, 'nobody@admin.test');
  });

  test('user app-password add (shown once), list (never the secret), remove', async () => {
    const made = await lb(['user', 'app-password', 'add', 'dave@admin.test', 'phone', '--json']);
    assert.equal(made.code, 0, made.stderr);
    const { password } = JSON.parse(made.stdout) as { password: string };
    assert.match(password, /^lb-[a-z2-7]{8}-[a-z2-7]{24}$/);
    const text = await lb(['user', 'app-password', 'add', 'dave@admin.test', 'laptop']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^ {2}lb-[a-z2-7]{8}-[a-z2-7]{24}$/m);
    assert.match(text.stdout, /shown only now/);
    const again = await lb(['user', 'app-password', 'add', 'dave@admin.test', 'phone']);
    assert.equal(again.code, 1);
    assertOneLineError(again.stderr, 'phone');
    const list = await lb(['user', 'app-password', 'list', 'dave@admin.test', '--json']);
    const apps = JSON.parse(list.stdout) as Array<{ name: string; lastUsedAt: string | null }>;
    assert.deepEqual(
      apps.map((a) => [a.name, a.lastUsedAt]),
      [
        ['phone', null],
        ['laptop', null],
      ],
    );
    assert.ok(!list.stdout.includes(password));
    assert.equal(
      (await lb(['user', 'app-password', 'remove', 'dave@admin.test', 'phone'])).code,
      0,
    );
    const gone = await lb(['user', 'app-password', 'remove', 'dave@admin.test', 'phone']);
    assert.equal(gone.code, 1);
    assertOneLineError(gone.stderr, 'phone');
    assert.match((await lb(['user', 'app-password', 'list', 'dave@admin.test'])).stdout, /laptop/);
    assert.equal((await lb(['user', 'app-password', 'add', 'dave@admin.test'])).code, 2);
  });

  test('alias add: each target an address; a loop is stored with a warning', async () => {
    for (const bad of ['dave', '@admin.test', 'a..b@admin.test', 'x@[127.0.0.1]', 'x@nodot']) {
      const r = await lb(['alias', 'add', 'team@admin.test', 'dave@admin.test', bad]);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assertOneLineError(r.stderr, 'invalid target', bad);
    }
    assert.deepEqual(JSON.parse((await lb(['alias', 'list', 'admin.test', '--json'])).stdout), []);
    const a1 = await lb(['alias', 'add', 'a@admin.test', 'b@admin.test', 'dave@admin.test']);
    assert.equal(a1.code, 0, a1.stderr);
    assert.equal(a1.stderr, '');
    const a2 = await lb(['alias', 'add', 'b@admin.test', 'a@admin.test', 'x@remote.test']);
    assert.equal(a2.code, 0, a2.stderr);
    assert.match(a2.stderr, /warning: b@admin\.test -> a@admin\.test -> b@admin\.test is a loop/);
  });

  test('user remove asks first; without a terminal it refuses unless --yes', async () => {
    const add = await lb(['user', 'add', 'gone@admin.test', '--password-stdin'], 'long enough\n');
    assert.equal(add.code, 0, add.stderr);
    const noTty = await lb(['user', 'remove', 'gone@admin.test']);
    assert.equal(noTty.code, 2);
    assertOneLineError(noTty.stderr, '--yes');
    assert.ok(
      (await users()).some((u) => u.address === 'gone@admin.test'),
      'still there',
    );
    const yes = await lb(['user', 'remove', 'gone@admin.test', '--yes']);
    assert.equal(yes.code, 0, yes.stderr);
    assert.ok(!(await users()).some((u) => u.address === 'gone@admin.test'));
    assert.equal((await lb(['user', 'remove', 'gone@admin.test', '--yes'])).code, 1);
  });

  /** `user remove` on a terminal (script(1) gives it one), answering `answer` to the prompt. */
  function removeOnTty(address: string, answer: string): Promise<{ code: number; out: string }> {
    const cmd = `${process.execPath} ${BIN} --config ${cfg} user remove ${address}; echo EXIT=$?`;
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let answered = false;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error(`no answer in time:\n${out}`));
      }, 60_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString('utf8');
        // The answer goes only once the question is on the terminal: no timing guess.
        if (!answered && out.includes('[y/N]')) {
          answered = true;
          child.stdin.write(`${answer}\n`);
        }
        const m = /EXIT=(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          child.stdin.end();
          resolve({ code: Number(m[1]), out });
        }
      });
      child.on('error', reject);
    });
  }

  test('user remove on a terminal: the question names what goes; only "y" removes', async () => {
    requireTool('script', 'apt-get install bsdutils');
    const add = await lb(['user', 'add', 'tty@admin.test', '--password-stdin'], 'long enough\n');
    assert.equal(add.code, 0, add.stderr);
    const no = await removeOnTty('tty@admin.test', 'n');
    assert.equal(no.code, 1, no.out);
    assert.match(no.out, /Remove tty@admin\.test and all its mail \(0 messages, 0B\)\?/);
    assert.match(no.out, /not removed: tty@admin\.test/);
    assert.ok(
      (await users()).some((u) => u.address === 'tty@admin.test'),
      'kept',
    );
    const yes = await removeOnTty('tty@admin.test', 'y');
    assert.equal(yes.code, 0, yes.out);
    assert.match(yes.out, /removed user tty@admin\.test/);
    assert.ok(!(await users()).some((u) => u.address === 'tty@admin.test'), 'removed');
  });
});
