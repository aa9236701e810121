// `letterbox dkim generate|list|retire|remove` as an operator runs it: the TXT records it
// prints are what verifies the signatures the server then makes.
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { clearDkimKeyCache, dkimSign } from '../../src/queue/dkim.js';
import { runCli } from '../helpers/cli.js';

function assertOneLineError(stderr: string, ...parts: string[]): void {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('npm warn'));
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  for (const p of parts) assert.ok(lines[0]!.includes(p), `"${lines[0]}" should mention ${p}`);
}

/** Zone-file TXT data `"a" "b"` back to its strings. */
function unquote(data: string): string[] {
  const out: string[] = [];
  for (const m of data.matchAll(/"((?:[^"\\]|\\.)*)"/g)) out.push(m[1]!.replace(/\\(.)/g, '$1'));
  return out;
}

/** The `name. IN TXT "..."` lines of an output, as name -> strings. */
function txtLines(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const m = /^(\S+)\.\tIN\tTXT\t(.+)$/.exec(line);
    if (m) out.set(m[1]!, unquote(m[2]!));
  }
  return out;
}

const MESSAGE = Buffer.from(
  'From: alice@example.test\r\nTo: bob@example.org\r\nSubject: hi\r\n' +
    'Date: Thu, 2 May 2024 10:00:00 +0000\r\nMessage-ID: <1@example.test>\r\n\r\nHello.\r\n',
);

describe('letterbox dkim', () => {
  let dir: string;
  let data: string;
  let cfg: string;
  const lb = (args: string[]) => runCli(['--config', cfg, ...args]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-cli-dkim-'));
    data = join(dir, 'data');
    cfg = join(data, 'letterbox.toml');
    const init = await runCli(['init', '--dir', data, '--hostname', 'mail.example.test']);
    assert.equal(init.code, 0, init.stderr);
    assert.equal((await lb(['domain', 'add', 'example.test'])).code, 0);
  });
  after(async () => {
    clearDkimKeyCache();
    await rm(dir, { recursive: true, force: true });
  });

  test('generate: an RSA-2048 and an Ed25519 key, and the TXT records that verify them', async () => {
    const r = await lb(['dkim', 'generate', 'Example.Test']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 5, r.stdout);
    assert.match(lines[0]!, /^; generated rsa key lb\d{6}-rsa for example\.test: \/.+\.rsa\.key$/);
    assert.match(lines[1]!, /^; generated ed25519 key lb\d{6}-ed25519 for example\.test: /);
    assert.match(lines[2]!, /^; publish in the zone of example\.test/);
    // RFC 1035 §3.3.14: the RSA record is split into strings of at most 255 octets.
    const rsa =
      /^(lb\d{6}-rsa)\._domainkey\.example\.test\.\tIN\tTXT\t"(v=DKIM1; k=rsa; p=[^"]{237})" "([A-Za-z0-9+/=]+)"$/.exec(
        lines[3]!,
      );
    assert.ok(rsa, lines[3]);
    assert.equal(rsa[2]!.length, 255);
    const ed =
      /^(lb\d{6}-ed25519)\._domainkey\.example\.test\.\tIN\tTXT\t"v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="$/.exec(
        lines[4]!,
      );
    assert.ok(ed, lines[4]);
    for (const [sel, alg] of [
      [rsa[1]!, 'rsa'],
      [ed[1]!, 'ed25519'],
    ]) {
      const file = join(data, 'dkim', 'example.test', `${sel}.${alg}.key`);
      assert.equal((await stat(file)).mode & 0o777, 0o600, file);
    }

    // What the server signs verifies against exactly the records printed.
    const zone = txtLines(r.stdout);
    const signed = await dkimSign(MESSAGE, { dataDir: data, domain: 'example.test' });
    const res = await dkimVerify(signed, {
      resolver: (async (name: string) => {
        const strings = zone.get(name);
        if (!strings) throw Object.assign(new Error('NXDOMAIN'), { code: 'ENOTFOUND' });
        return [strings];
      }) as never,
    });
    assert.deepEqual(
      res.results.map((x) => [(x as { selector: string }).selector, x.status.result]),
      [
        [rsa[1], 'pass'],
        [ed[1], 'pass'],
      ],
    );
  });

  test('generate --selector --algorithm --json', async () => {
    const r = await lb([
      'dkim',
      'generate',
      'example.test',
      '--selector',
      'Spare',
      '--algorithm',
      'ed25519',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [k] = JSON.parse(r.stdout);
    assert.equal(k.domain, 'example.test');
    assert.equal(k.selector, 'spare');
    assert.equal(k.algorithm, 'ed25519');
    assert.equal(k.retired, false);
    assert.equal(k.record.name, 'spare._domainkey.example.test');
    assert.match(k.record.value, /^v=DKIM1; k=ed25519; p=\S{44}$/);
    assert.deepEqual(k.record.strings, [k.record.value]);
  });

  test('refusals: one line on stderr, exit 1 (refused) or 2 (bad usage)', async () => {
    const cases: Array<[string[], number, string]> = [
      [['dkim', 'generate', 'example.test', '--selector', 'x'], 2, 'give --algorithm'],
      [['dkim', 'generate', 'example.test', '--algorithm', 'dsa'], 2, 'rsa, ed25519 or both'],
      [['dkim', 'generate', 'exa mple.test'], 2, 'not a domain name'],
      [
        ['dkim', 'generate', 'example.test', '--algorithm', 'rsa', '--selector', 'a_b'],
        2,
        'not a selector',
      ],
      [
        ['dkim', 'generate', 'example.test', '--algorithm', 'rsa', '--selector', 'spare'],
        1,
        'in use',
      ],
      [['dkim', 'generate', 'example.org'], 1, 'not a local domain'],
      [['dkim', 'retire', 'example.test', 'nope'], 1, 'no DKIM key nope'],
    ];
    for (const [args, code, msg] of cases) {
      const r = await lb(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assertOneLineError(r.stderr, msg);
    }
  });

  test('list, retire, remove', async () => {
    const list = await lb(['dkim', 'list']);
    assert.equal(list.code, 0, list.stderr);
    const rows = list.stdout.trimEnd().split('\n');
    assert.match(rows[0]!, /^DOMAIN\s+SELECTOR\s+ALGORITHM\s+STATE\s+CREATED\s+RECORD$/);
    assert.equal(rows.length, 4);
    assert.match(
      rows[3]!,
      /^example\.test\s+spare\s+ed25519\s+signing\s+\S+\s+spare\._domainkey\.example\.test TXT$/,
    );

    const retire = await lb(['dkim', 'retire', 'example.test', 'spare']);
    assert.equal(retire.code, 0, retire.stderr);
    assert.match(retire.stdout, /retired spare of example\.test/);
    const json = JSON.parse((await lb(['dkim', 'list', 'example.test', '--json'])).stdout);
    assert.deepEqual(
      json.map((k: { selector: string; retired: boolean }) => [
        k.selector.replace(/\d{6}/, 'N'),
        k.retired,
      ]),
      [
        ['lbN-rsa', false],
        ['lbN-ed25519', false],
        ['spare', true],
      ],
    );

    const notRetired = await lb(['dkim', 'remove', 'example.test', json[0].selector]);
    assert.equal(notRetired.code, 1);
    assertOneLineError(notRetired.stderr, 'retire it first');
    const removed = await lb(['dkim', 'remove', 'example.test', 'spare']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /delete spare\._domainkey\.example\.test TXT/);
    assert.equal(JSON.parse((await lb(['dkim', 'list', '--json'])).stdout).length, 2);
  });
});
