// `letterbox queue` as an administrator uses it: list, show, hold, release, retry, flush,
// delete, with --json, exit codes and one-line errors.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { runCli } from '../helpers/cli.js';

describe('letterbox queue', () => {
  let dir: string;
  let cfg: string;
  let first: number;
  let second: number;
  const lb = (args: string[]) => runCli(['--config', cfg, ...args]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-cli-queue-'));
    const data = join(dir, 'data');
    const r = await runCli(['init', '--dir', data, '--hostname', 'mail.example.test']);
    assert.equal(r.code, 0, r.stderr);
    cfg = join(data, 'letterbox.toml');
    const store = await SqliteStore.open({ dir: data });
    const message = (s: string) =>
      Buffer.from(`From: a@example.test\r\nTo: b@remote.test\r\nSubject: ${s}\r\n\r\nhi\r\n`);
    first = await store.enqueueOutbound({
      sender: 'a@example.test',
      recipients: [{ address: 'b@remote.test', notify: ['FAILURE'] }],
      raw: message('first'),
      envid: 'env-1',
    });
    second = await store.enqueueOutbound({
      sender: '',
      recipients: [{ address: 'c@remote.test' }],
      raw: message('second'),
    });
    await store.close();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('list and list --json', async () => {
    const r = await lb(['queue', 'list']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${first}\\s.*b@remote\\.test\\s+pending`, 'm'));
    assert.match(r.stdout, new RegExp(`^${second}\\s.*<>\\s+c@remote\\.test`, 'm'));
    const j = await lb(['queue', 'list', '--json']);
    const items = JSON.parse(j.stdout) as Array<{ id: number; envid: string | null }>;
    assert.deepEqual(
      items.map((i) => [i.id, i.envid]),
      [
        [first, 'env-1'],
        [second, null],
      ],
    );
  });

  test('show: envelope, recipients and the header', async () => {
    const r = await lb(['queue', 'show', String(first)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Sender:\s+a@example\.test/);
    assert.match(r.stdout, /Recipient:\s+b@remote\.test\s+pending/);
    assert.match(r.stdout, /Subject: first/);
    const j = JSON.parse((await lb(['queue', 'show', String(first), '--json'])).stdout) as {
      header: string;
    };
    assert.match(j.header, /^From: a@example\.test/);
  });

  test('hold and release', async () => {
    assert.equal((await lb(['queue', 'hold', String(first)])).code, 0);
    const held = await lb(['queue', 'list']);
    assert.match(held.stdout, new RegExp(`^${first}\\s.*\\sheld\\s`, 'm'));
    const r = await lb(['queue', 'release', String(first)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      (await lb(['queue', 'list'])).stdout,
      new RegExp(`^${first}\\s.*\\spending\\s`, 'm'),
    );
  });

  test('retry ID, retry --all, flush', async () => {
    assert.match((await lb(['queue', 'retry', String(second)])).stdout, /^1 message due now/);
    assert.match((await lb(['queue', 'retry', '--all'])).stdout, /^2 messages due now/);
    assert.match((await lb(['queue', 'flush'])).stdout, /^2 messages due now/);
    const bad = await lb(['queue', 'retry']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /give an ID or --all/);
  });

  test('delete, and errors for IDs that are not there', async () => {
    const r = await lb(['queue', 'delete', String(second)]);
    assert.equal(r.code, 0, r.stderr);
    const list = await lb(['queue', 'list', '--json']);
    assert.deepEqual(
      (JSON.parse(list.stdout) as Array<{ id: number }>).map((i) => i.id),
      [first],
    );
    const again = await lb(['queue', 'delete', String(second)]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no queued message/);
    const show = await lb(['queue', 'show', 'x']);
    assert.equal(show.code, 2);
    assert.match(show.stderr, /not a queue ID/);
  });
});
