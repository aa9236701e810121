// DKIM signing (queue/dkim.ts) and the key store (queue/dkim-keys.ts): signatures made with
// the stored keys verify with mailauth's verifier and with dkimpy (an independent
// implementation, when python3-dkim is installed) against the TXT records the key store
// publishes; RSA and Ed25519 together; relaxed canonicalization; From oversigned; rotation.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { clearDkimKeyCache, DkimSignError, dkimSign } from '../../src/queue/dkim.js';
import {
  type DkimKeyInfo,
  defaultSelector,
  generateDkimKey,
  keyRecordName,
  keyRecordValue,
  listDkimKeys,
  publicKeyValue,
  removeDkimKey,
  retireDkimKey,
  txtStrings,
} from '../../src/queue/dkim-keys.js';

const MESSAGE = Buffer.from(
  [
    'Received: from client (localhost [127.0.0.1]) by mail.example.test',
    'From: Alice <alice@example.test>',
    'To: Bob <bob@example.org>',
    'Cc: carol@example.org',
    'Reply-To: alice+replies@example.test',
    'Sender: alice@example.test',
    'Subject: Lunch on',
    ' Thursday?',
    'Date: Thu, 2 May 2024 10:00:00 +0000',
    'Message-ID: <lunch-1@example.test>',
    'In-Reply-To: <lunch-0@example.org>',
    'References: <lunch-0@example.org>',
    'List-Unsubscribe: <mailto:unsub@example.test>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    'X-Mailer: test',
    '',
    'Shall we meet at noon?  ',
    '',
    '-- ',
    'Alice',
    '',
    '',
  ].join('\r\n'),
);

/** TXT records by name, answered as DNS would: the record's 255-octet strings. */
type Zone = Map<string, string>;

function publish(zone: Zone, ...keys: DkimKeyInfo[]): Zone {
  for (const k of keys) zone.set(keyRecordName(k.domain, k.selector), keyRecordValue(k));
  return zone;
}

function resolver(zone: Zone) {
  return async (name: string, type: string) => {
    const v = type === 'TXT' ? zone.get(name.toLowerCase()) : undefined;
    if (v === undefined)
      throw Object.assign(new Error(`no ${type} for ${name}`), { code: 'ENOTFOUND' });
    return [txtStrings(v)];
  };
}

interface Result {
  selector: string;
  algorithm: string;
  result: string;
  h: string[];
}

async function verify(message: Buffer, zone: Zone): Promise<Result[]> {
  const r = await dkimVerify(message, { resolver: resolver(zone) as never });
  return r.results.map((x) => {
    const sig = x as unknown as {
      selector: string;
      algo: string;
      status: { result: string };
      signingHeaders?: { keys: string };
    };
    return {
      selector: sig.selector,
      algorithm: sig.algo,
      result: sig.status.result,
      h: (sig.signingHeaders?.keys ?? '').split(':').map((s) => s.trim().toLowerCase()),
    };
  });
}

function signatureTags(message: Buffer): Array<Map<string, string>> {
  const head = message.subarray(0, message.indexOf('\r\n\r\n')).toString('latin1');
  const fields = head.split(/\r\n(?![ \t])/).filter((f) => /^dkim-signature:/i.test(f));
  return fields.map((f) => {
    const tags = new Map<string, string>();
    for (const part of f
      .slice(f.indexOf(':') + 1)
      .replace(/\s+/g, '')
      .split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0) tags.set(part.slice(0, eq), part.slice(eq + 1));
    }
    return tags;
  });
}

/** A python3 that has dkimpy (Debian's python3-dkim), or null. */
function dkimpyPython(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import dkim, nacl'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

const DKIMPY_VERIFY = `
import json, sys, dkim
msg = open(sys.argv[1], 'rb').read()
zone = json.load(open(sys.argv[2]))
def dnsfunc(name, timeout=5):
    v = zone.get(name.decode().rstrip('.').lower())
    return v.encode() if v is not None else None
d = dkim.DKIM(msg)
n = sum(1 for h in d.headers if h[0].lower() == b'dkim-signature')
print(json.dumps([bool(d.verify(idx=i, dnsfunc=dnsfunc)) for i in range(n)]))
`;

describe('DKIM signing', () => {
  let dir: string;
  let rsa: DkimKeyInfo;
  let ed: DkimKeyInfo;
  let zone: Zone;
  let signed: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-dkim-'));
    rsa = await generateDkimKey(dir, 'example.test', { algorithm: 'rsa' });
    ed = await generateDkimKey(dir, 'Example.Test', { algorithm: 'ed25519' });
    zone = publish(new Map(), rsa, ed);
    signed = await dkimSign(MESSAGE, { dataDir: dir, domain: 'EXAMPLE.test' });
  });
  after(async () => {
    clearDkimKeyCache();
    await rm(dir, { recursive: true, force: true });
  });

  test('RSA-2048 and Ed25519 sign together; both verify with mailauth', async () => {
    assert.ok(signed.subarray(signed.length - MESSAGE.length).equals(MESSAGE), 'message kept');
    assert.match(signed.toString('latin1'), /^DKIM-Signature: /);
    const tags = signatureTags(signed);
    assert.equal(tags.length, 2);
    assert.deepEqual(
      tags.map((t) => [t.get('a'), t.get('c'), t.get('d'), t.get('s')]),
      [
        ['rsa-sha256', 'relaxed/relaxed', 'example.test', rsa.selector],
        ['ed25519-sha256', 'relaxed/relaxed', 'example.test', ed.selector],
      ],
    );
    const results = await verify(signed, zone);
    assert.deepEqual(
      results.map((r) => [r.selector, r.algorithm, r.result]),
      [
        [rsa.selector, 'rsa-sha256', 'pass'],
        [ed.selector, 'ed25519-sha256', 'pass'],
      ],
    );
    // The RSA record is longer than one TXT string: published as several, it still verifies.
    assert.ok(txtStrings(keyRecordValue(rsa)).length > 1);
    assert.equal(rsa.publicKey.length, 392, 'a 2048-bit SubjectPublicKeyInfo');
    assert.equal(Buffer.from(ed.publicKey, 'base64').length, 32, 'RFC 8463 §4.2: raw key');
  });

  test('the usual fields are signed, From once more than it occurs; others are not', () => {
    const h = signatureTags(signed)[0]!.get('h')!.toLowerCase().split(':');
    const expected = [
      'from',
      'to',
      'cc',
      'reply-to',
      'sender',
      'subject',
      'date',
      'message-id',
      'in-reply-to',
      'references',
      'list-unsubscribe',
      'mime-version',
      'content-type',
      'content-transfer-encoding',
    ];
    for (const f of expected) assert.ok(h.includes(f), `${f} in h=`);
    assert.equal(h.filter((f) => f === 'from').length, 2, 'From oversigned');
    assert.ok(!h.includes('received') && !h.includes('x-mailer'));
  });

  test('relaxed/relaxed: refolding and whitespace changes in transit still verify', async () => {
    const relayed = Buffer.from(
      signed
        .toString('latin1')
        .replace('Subject: Lunch on\r\n Thursday?', 'Subject:   Lunch on Thursday?')
        .replace('Shall we meet at noon?  \r\n', 'Shall we  meet at noon?\r\n')
        .replace('X-Mailer: test', 'X-Mailer: changed in transit'),
      'latin1',
    );
    assert.notEqual(relayed.toString(), signed.toString());
    assert.deepEqual(
      (await verify(relayed, zone)).map((r) => r.result),
      ['pass', 'pass'],
    );
  });

  test('a changed signed field, a changed body or a From added on top fails', async () => {
    const text = signed.toString('latin1');
    const changed = [
      text.replace('Reply-To: alice+replies@example.test', 'Reply-To: mallory@example.org'),
      text.replace('meet at noon', 'meet at midnight'),
      // Without oversigning the verifier would take the bottom From and pass; readers show
      // the top one.
      `From: Mallory <ceo@example.test>\r\n${text}`,
    ];
    for (const c of changed) {
      const results = await verify(Buffer.from(c, 'latin1'), zone);
      assert.equal(results.length, 2);
      // RFC 6376 §6.1.3: a body hash mismatch is a failure (mailauth reports it "neutral").
      for (const r of results) assert.notEqual(r.result, 'pass', c.slice(0, 60));
    }
  });

  test('dkimpy, an independent verifier, passes both signatures', async () => {
    const py = dkimpyPython();
    // .ci/run installs it; like the e2e tests' tools, a missing verifier fails loudly.
    assert.ok(py !== null, 'python3-dkim (dkimpy) with python3-nacl is not installed');
    const msgFile = join(dir, 'signed.eml');
    const zoneFile = join(dir, 'zone.json');
    await writeFile(msgFile, signed);
    await writeFile(zoneFile, JSON.stringify(Object.fromEntries(zone)));
    const r = spawnSync(py, ['-c', DKIMPY_VERIFY, msgFile, zoneFile], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [true, true]);
  });

  test('a domain without keys, or not a domain name: the message comes back unchanged', async () => {
    assert.equal(await dkimSign(MESSAGE, { dataDir: dir, domain: 'example.org' }), MESSAGE);
    assert.equal(await dkimSign(MESSAGE, { dataDir: dir, domain: '../example.test' }), MESSAGE);
  });

  test('a message without a body is signed too', async () => {
    const headers = Buffer.from('From: alice@example.test\r\nSubject: empty\r\n');
    const out = await dkimSign(headers, { dataDir: dir, domain: 'example.test' });
    assert.equal(signatureTags(Buffer.concat([out, Buffer.from('\r\n')])).length, 2);
    assert.ok(out.subarray(out.length - headers.length).equals(headers));
    const results = await verify(Buffer.concat([out, Buffer.from('\r\n')]), zone);
    assert.deepEqual(
      results.map((r) => r.result),
      ['pass', 'pass'],
    );
  });

  test('keys are 0600 in 0700 directories whatever the umask', async () => {
    const old = process.umask(0o022);
    try {
      const d = await mkdtemp(join(tmpdir(), 'lb-dkim-mode-'));
      try {
        const k = await generateDkimKey(d, 'example.test', { algorithm: 'ed25519' });
        assert.equal((await stat(k.file)).mode & 0o777, 0o600);
        assert.equal((await stat(join(d, 'dkim'))).mode & 0o777, 0o700);
        assert.equal((await stat(join(d, 'dkim', 'example.test'))).mode & 0o777, 0o700);
      } finally {
        await rm(d, { recursive: true, force: true });
      }
    } finally {
      process.umask(old);
    }
  });

  test('a key file that does not parse: DkimSignError (retry later), not an unsigned send', async () => {
    const d = await mkdtemp(join(tmpdir(), 'lb-dkim-bad-'));
    try {
      await generateDkimKey(d, 'example.test', { algorithm: 'ed25519', selector: 'good' });
      await writeFile(join(d, 'dkim', 'example.test', 'broken.rsa.key'), 'not a key\n');
      await assert.rejects(dkimSign(MESSAGE, { dataDir: d, domain: 'example.test' }), (err) => {
        assert.ok(err instanceof DkimSignError);
        assert.match(err.message, /broken\.rsa\.key/);
        return true;
      });
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});

describe('DKIM key rotation', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-dkim-rot-'));
  });
  after(async () => {
    clearDkimKeyCache();
    await rm(dir, { recursive: true, force: true });
  });

  const sign = () => dkimSign(MESSAGE, { dataDir: dir, domain: 'example.test' });
  const selectors = (m: Buffer) => signatureTags(m).map((t) => t.get('s'));

  test('a new selector signs beside the old one at once; retired, the old stops; removed', async () => {
    const old = await generateDkimKey(dir, 'example.test', { algorithm: 'rsa', selector: 'old' });
    assert.deepEqual(selectors(await sign()), ['old']);

    // The signer has the old key cached: the new one is seen without a restart.
    const neu = await generateDkimKey(dir, 'example.test', { algorithm: 'rsa', selector: 'new' });
    const both = await sign();
    assert.deepEqual(selectors(both), ['new', 'old']);
    assert.deepEqual(
      (await verify(both, publish(new Map(), old, neu))).map((r) => r.result),
      ['pass', 'pass'],
    );
    // Before the new record is in DNS, the old signature still passes (DMARC needs one).
    const onlyOld = await verify(both, publish(new Map(), old));
    assert.deepEqual(
      onlyOld.map((r) => r.selector),
      ['new', 'old'],
    );
    assert.notEqual(onlyOld[0]!.result, 'pass');
    assert.equal(onlyOld[1]!.result, 'pass');

    await retireDkimKey(dir, 'example.test', 'old');
    const after = await sign();
    assert.deepEqual(selectors(after), ['new']);
    assert.deepEqual(
      (await verify(after, publish(new Map(), neu))).map((r) => r.result),
      ['pass'],
    );
    // Retired keys stay listed (their record stays published a while).
    assert.deepEqual(
      (await listDkimKeys(dir, 'example.test')).map((k) => [k.selector, k.retired]),
      [
        ['old', true],
        ['new', false],
      ],
    );

    await assert.rejects(removeDkimKey(dir, 'example.test', 'new'), /retire it first/);
    await removeDkimKey(dir, 'example.test', 'old');
    assert.deepEqual(
      (await listDkimKeys(dir)).map((k) => k.selector),
      ['new'],
    );
    assert.deepEqual(selectors(await sign()), ['new']);
    await retireDkimKey(dir, 'example.test', 'new');
    assert.equal(await sign(), MESSAGE, 'every key retired: unsigned');
  });

  test('keys are cached while the directory is unchanged; a change of its mtime reloads', async () => {
    const d = await mkdtemp(join(tmpdir(), 'lb-dkim-cache-'));
    try {
      const k1 = await generateDkimKey(d, 'example.test', { algorithm: 'ed25519', selector: 'c' });
      const domainDir = join(d, 'dkim', 'example.test');
      // An mtime well in the past: the cache trusts it (a recent one is "racy", read again).
      const past = Date.now() / 1000 - 3600;
      await utimes(domainDir, past, past);
      const signWith = () => dkimSign(MESSAGE, { dataDir: d, domain: 'example.test' });
      assert.equal((await verify(await signWith(), publish(new Map(), k1)))[0]!.result, 'pass');

      // The key file replaced in place: the directory does not change, the cached key signs.
      const { privateKey } = generateKeyPairSync('ed25519');
      await writeFile(k1.file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
      await utimes(domainDir, past, past);
      const k2 = { ...k1, publicKey: publicKeyValue(privateKey) };
      assert.equal((await verify(await signWith(), publish(new Map(), k1)))[0]!.result, 'pass');

      // The directory's mtime moves (as generate, retire and remove make it): reloaded.
      await utimes(domainDir, past + 60, past + 60);
      const fresh = await signWith();
      assert.equal((await verify(fresh, publish(new Map(), k2)))[0]!.result, 'pass');
      assert.notEqual((await verify(fresh, publish(new Map(), k1)))[0]!.result, 'pass');
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  test('default selectors: lb<yyyymm>-<algorithm>, a letter added when taken', async () => {
    const may = new Date('2024-05-20T12:00:00Z');
    assert.equal(defaultSelector('rsa', may, new Set()), 'lb202405-rsa');
    assert.equal(defaultSelector('ed25519', may, new Set()), 'lb202405-ed25519');
    assert.equal(defaultSelector('rsa', may, new Set(['lb202405-rsa'])), 'lb202405b-rsa');
    const a = await generateDkimKey(dir, 'rot.example', { algorithm: 'ed25519', now: may });
    const b = await generateDkimKey(dir, 'rot.example', { algorithm: 'ed25519', now: may });
    assert.deepEqual([a.selector, b.selector], ['lb202405-ed25519', 'lb202405b-ed25519']);
    await assert.rejects(
      generateDkimKey(dir, 'rot.example', { algorithm: 'rsa', selector: 'LB202405-ed25519' }),
      /in use/,
    );
    await assert.rejects(
      generateDkimKey(dir, 'rot.example', { algorithm: 'rsa', selector: 'a.b' }),
      /not a selector/,
    );
  });
});

test('keys made in the same clock tick list in signing order (RSA first), not by name', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-dkim-tie-'));
  try {
    const rsa = await generateDkimKey(dir, 'tie.example', { algorithm: 'rsa', selector: 'zz' });
    const ed = await generateDkimKey(dir, 'tie.example', { algorithm: 'ed25519', selector: 'aa' });
    // The kernel stamps files with a coarse clock: both can carry the same time.
    const t = new Date('2026-01-02T03:04:05Z');
    await utimes(rsa.file, t, t);
    await utimes(ed.file, t, t);
    assert.deepEqual(
      (await listDkimKeys(dir, 'tie.example')).map((k) => k.selector),
      ['zz', 'aa'],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
