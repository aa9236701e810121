// `letterbox import` and `letterbox export` as an operator runs them (the built CLI): JSON
// lines per folder and a summary without a terminal, exit 1 with each failure named on
// stderr, a rerun that skips, an export into a used directory refused, and an mbox export
// imported into another account.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN, runCli } from '../helpers/cli.js';

function runCommand(cmd: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout });
    });
  });
}

describe('letterbox import / export', () => {
  let dir: string;
  let cfg: string;
  const lb = (args: string[], input?: string) => runCli(['--config', cfg, ...args], { input });
  const lines = (s: string) =>
    s
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-cli-import-'));
    cfg = join(dir, 'data', 'letterbox.toml');
    assert.equal(
      (await runCli(['init', '--dir', join(dir, 'data'), '--hostname', 'mx.example.test'])).code,
      0,
    );
    assert.equal((await lb(['domain', 'add', 'example.test'])).code, 0);
    for (const u of ['a', 'b', 'c']) {
      const r = await lb(
        ['user', 'add', `${u}@example.test`, '--password-stdin'],
        'pw-long-enough\n',
      );
      assert.equal(r.code, 0, r.stderr);
    }
    const md = join(dir, 'Maildir');
    for (const f of ['', '.Sent']) await mkdir(join(md, f, 'cur'), { recursive: true });
    await writeFile(join(md, 'cur', '1.a:2,S'), 'Subject: one\n\nbody\n');
    await writeFile(join(md, 'cur', '2.b:2,'), '');
    await writeFile(join(md, '.Sent', 'cur', '3.c:2,RS'), 'Subject: sent\n\nbody\n');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('import maildir: a line per folder, the summary, exit 1 naming the failure; rerun skips', async () => {
    const md = join(dir, 'Maildir');
    const r = await lb(['import', 'maildir', 'a@example.test', md]);
    assert.equal(r.code, 1, r.stderr);
    const out = lines(r.stdout);
    assert.deepEqual(
      out.map((l) => [l.folder, l.imported, l.skipped, l.failed]),
      [
        ['INBOX', 1, 0, 1],
        ['Sent', 1, 0, 0],
        [undefined, 2, 0, 1],
      ],
    );
    assert.deepEqual(out[2]!.failures, [
      { source: join(md, 'cur', '2.b:2,'), reason: 'empty message' },
    ]);
    assert.match(r.stderr, new RegExp(`failed: ${md}/cur/2\\.b:2,: empty message`));
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const again = await lb(['import', 'maildir', 'a@example.test', md]);
    assert.deepEqual(
      lines(again.stdout).map((l) => [l.imported, l.skipped]),
      [
        [0, 1],
        [0, 1],
        [0, 2],
      ],
    );
    const none = await lb(['import', 'maildir', 'nobody@example.test', md]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^letterbox: no account nobody@example\.test\n$/);
    const nodir = await lb(['import', 'mbox', 'a@example.test', join(dir, 'missing')]);
    assert.equal(nodir.code, 1);
    assert.match(nodir.stderr, /cannot read .*missing: no such file/);
  });

  test('on a terminal: a progress bar with the rate and the ETA, then a table (script(1) gives the pty)', async () => {
    const md = join(dir, 'Maildir-tty');
    await mkdir(join(md, 'cur'), { recursive: true });
    for (let i = 1; i <= 20; i++)
      await writeFile(join(md, 'cur', `${i}.t:2,S`), `Subject: t${i}\n\nb\n`);
    const cmd = [process.execPath, BIN, '--config', cfg, 'import', 'maildir', 'c@example.test', md]
      .map((a) => `'${a}'`)
      .join(' ');
    const r = await runCommand('script', ['-qec', cmd, '/dev/null']);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /100% \| 20\/20 messages \| \d+\/s \| ETA \S+ \| INBOX/);
    assert.match(r.stdout, /FOLDER +IMPORTED +SKIPPED +FAILED +UIDS\r?\nINBOX +20 +0 +0 +new/);
    assert.match(r.stdout, /imported 20, skipped 0 \(already there\), failed 0/);
  });

  test('export mbox, import it into another account; an export into a used directory is refused', async () => {
    const path = join(dir, 'export');
    const r = await lb(['export', 'a@example.test', 'mbox', path]);
    assert.equal(r.code, 0, r.stderr);
    const out = lines(r.stdout);
    assert.deepEqual(out.at(-1), { exported: 2, failed: 0, failures: [] });
    const used = await lb(['export', 'a@example.test', 'maildir', path]);
    assert.equal(used.code, 1);
    assert.match(used.stderr, /is not empty/);
    const bad = await lb(['export', 'a@example.test', 'pst', join(dir, 'x')]);
    assert.equal(bad.code, 2);
    const im = await lb(['import', 'mbox', 'b@example.test', path]);
    assert.equal(im.code, 0, im.stderr);
    assert.deepEqual(lines(im.stdout).at(-1), { imported: 2, skipped: 0, failed: 0, failures: [] });
    const list = JSON.parse((await lb(['user', 'list', '--json'])).stdout) as Array<{
      address: string;
      mailboxes: Array<{ name: string; messages: number }>;
    }>;
    const counts = (a: string) =>
      list
        .find((x) => x.address === a)!
        .mailboxes.filter((m) => m.messages > 0)
        .map((m) => [m.name, m.messages]);
    assert.deepEqual(counts('b@example.test'), counts('a@example.test'));
    assert.deepEqual(counts('b@example.test'), [
      ['INBOX', 1],
      ['Sent', 1],
    ]);
  });
});
