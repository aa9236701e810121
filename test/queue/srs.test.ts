// Sender Rewriting Scheme: known answers from the reference implementation (Perl Mail::SRS
// 0.31, Debian's libmail-srs-perl, the format libsrs2 and postsrsd share), expiry, case
// smashing in transit, hostile input, and the key file under data_dir.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { loadOrCreateSrsSecret, SRS_KEY_FILE, Srs } from '../../src/queue/srs.js';

// Generated with Mail::SRS 0.31 (Guarded, the default), Secret 'letterbox-test-secret',
// MaxAge 21, time() fixed at 1700000000 (day 19675, stamp 'G3'):
//   BEGIN { *CORE::GLOBAL::time = sub { 1700000000 } } use Mail::SRS;
//   my $srs = Mail::SRS->new(Secret => 'letterbox-test-secret', MaxAge => 21);
//   print $srs->forward($sender, 'fwd.test');
const SECRET = 'letterbox-test-secret';
const T0 = new Date(1_700_000_000 * 1000);
const DAY = 86_400_000;
const KNOWN: Array<[string, string]> = [
  ['alice@example.org', 'SRS0=vJDp=G3=example.org=alice@fwd.test'],
  ['Carol.Q+tag@Example.COM', 'SRS0=mC7m=G3=Example.COM=Carol.Q+tag@fwd.test'],
  ['Jörg@Example.org', 'SRS0=gJb+=G3=Example.org=Jörg@fwd.test'],
  ['SRS0=abcd=TT=orig.test=bob@first.test', 'SRS1=IPSO=first.test==abcd=TT=orig.test=bob@fwd.test'],
  [
    'SRS1=wxyz=first.test==abcd=TT=orig.test=bob@second.test',
    'SRS1=IPSO=first.test==abcd=TT=orig.test=bob@fwd.test',
  ],
  ['SRS0+abcd=TT=orig.test=bob@first.test', 'SRS1=JYTB=first.test=+abcd=TT=orig.test=bob@fwd.test'],
];

const at = (ms: number) => new Srs(SECRET, { now: () => new Date(T0.getTime() + ms) });

describe('Srs: the reference implementation', () => {
  const srs = at(0);

  test('forward gives what Mail::SRS gives', () => {
    for (const [sender, want] of KNOWN) assert.equal(srs.forward(sender, 'fwd.test'), want);
  });

  test('reverse undoes SRS0 to the sender and SRS1 to the previous forwarder', () => {
    assert.equal(srs.reverse('SRS0=vJDp=G3=example.org=alice@fwd.test'), 'alice@example.org');
    assert.equal(srs.reverse('SRS0=gJb+=G3=Example.org=Jörg@fwd.test'), 'Jörg@Example.org');
    assert.equal(
      srs.reverse('SRS1=IPSO=first.test==abcd=TT=orig.test=bob@fwd.test'),
      'SRS0=abcd=TT=orig.test=bob@first.test',
    );
    assert.equal(
      srs.reverse('SRS1=JYTB=first.test=+abcd=TT=orig.test=bob@fwd.test'),
      'SRS0+abcd=TT=orig.test=bob@first.test',
    );
  });

  test('a local part lower-cased in transit still verifies (hash compared without case)', () => {
    const fwd = srs.forward('Carol.Q+tag@Example.COM', 'fwd.test');
    assert.equal(srs.reverse(fwd.toLowerCase()), 'carol.q+tag@example.com');
    assert.equal(srs.reverse(fwd.toUpperCase()), 'CAROL.Q+TAG@EXAMPLE.COM');
  });

  test('isSrs: SRS0 / SRS1 and a separator, any case', () => {
    for (const a of ['SRS0=x=y=z=w@d', 'srs1+x@d', 'Srs0-x', 'SRS0=vJDp=G3=example.org=alice']) {
      assert.equal(srs.isSrs(a), true, a);
    }
    for (const a of ['SRS0@d', 'SRS2=x@d', 'alice@d', '', 'SRS', 'xSRS0=a@d']) {
      assert.equal(srs.isSrs(a), false, a);
    }
  });
});

describe('Srs: what is not rewritten, what does not reverse', () => {
  const srs = at(0);

  test('forward leaves the null sender, our own domain and unusable senders alone', () => {
    for (const s of [
      '',
      'bob@fwd.test',
      'bob@FWD.Test',
      'no-domain',
      '@example.org',
      'bob@',
      '"a b"@example.org',
      `${'a'.repeat(600)}@example.org`,
      'a\r\nb@example.org',
    ]) {
      assert.equal(srs.forward(s, 'fwd.test'), s, JSON.stringify(s));
    }
  });

  test('expiry: 21 days old reverses, 22 does not; across the 1024-day wrap too', () => {
    const fwd = at(0).forward('alice@example.org', 'fwd.test');
    assert.equal(at(21 * DAY).reverse(fwd), 'alice@example.org');
    assert.equal(at(22 * DAY).reverse(fwd), null);
    // A stamp from the future (clock moved back) is as good as expired (Mail::SRS too).
    assert.equal(at(-DAY).reverse(fwd), null);
    // Day 19675 is slot 219; 1024 days later the stamp means "today" again.
    assert.equal(at(1024 * DAY).reverse(fwd), 'alice@example.org');
    // Day 1023 of a cycle, reversed on day 3 of the next.
    const base = Math.floor(T0.getTime() / DAY / 1024) * 1024 * DAY + 1023 * DAY;
    const s = new Srs(SECRET, { now: () => new Date(base) });
    const late = s.forward('alice@example.org', 'fwd.test');
    assert.match(late, /^SRS0=[^=]{4}=77=/);
    assert.equal(
      new Srs(SECRET, { now: () => new Date(base + 4 * DAY) }).reverse(late),
      'alice@example.org',
    );
    const custom = new Srs(SECRET, { maxAgeDays: 2, now: () => new Date(T0.getTime() + 3 * DAY) });
    assert.equal(custom.reverse(fwd), null);
  });

  test('a wrong hash, another secret, an edited field: null', () => {
    const fwd = srs.forward('alice@example.org', 'fwd.test');
    assert.equal(srs.reverse(fwd.replace('vJDp', 'vJDq')), null);
    assert.equal(srs.reverse(fwd.replace('alice', 'mallory')), null);
    assert.equal(srs.reverse(fwd.replace('example.org', 'example.net')), null);
    assert.equal(srs.reverse(fwd.replace('=G3=', '=G2=')), null);
    assert.equal(new Srs('another secret', { now: () => T0 }).reverse(fwd), null);
    // SRS1 hashes are checked too (its SRS0 part is the first forwarder's to check).
    assert.equal(srs.reverse('SRS1=IPSX=first.test==abcd=TT=orig.test=bob@fwd.test'), null);
  });

  test('malformed and hostile addresses: null, never a throw', () => {
    for (const a of [
      '',
      '@',
      'SRS0=@fwd.test',
      'SRS0=====@fwd.test',
      'SRS0=vJDp=G3=example.org=@fwd.test',
      'SRS0=vJDp=G3==alice@fwd.test',
      'SRS0=vJDp=G=example.org=alice@fwd.test',
      'SRS0=vJ=G3=example.org=alice@fwd.test',
      'SRS0=vJDp=!!=example.org=alice@fwd.test',
      'SRS1=IPSO@fwd.test',
      'SRS1===@fwd.test',
      `SRS0=vJDp=G3=example.org=${'a'.repeat(1_000_000)}@fwd.test`,
      'SRS0=vJDp=G3=example.org=al\r\nice@fwd.test',
    ]) {
      assert.equal(srs.reverse(a), null, a.slice(0, 60));
    }
    assert.equal(srs.reverse(undefined as unknown as string), null);
  });

  test('property: any string reverses to null or a string, and forward∘reverse is identity', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        const r = srs.reverse(s);
        assert.ok(r === null || typeof r === 'string');
        assert.equal(typeof srs.forward(s, 'fwd.test'), 'string');
      }),
      { numRuns: 2000 },
    );
    const local = fc.stringMatching(/^[A-Za-z0-9.+_=-]{1,40}$/);
    const domain = fc.stringMatching(/^[a-z0-9-]{1,20}(\.[a-z]{2,6}){1,2}$/);
    fc.assert(
      fc.property(local, domain, (l, d) => {
        const sender = `${l}@${d}`;
        const fwd = srs.forward(sender, 'fwd.test');
        assert.ok(fwd.endsWith('@fwd.test'));
        if (srs.isSrs(sender)) return; // SRS0/SRS1 in: SRS1 out, reversing to the hop before
        assert.equal(srs.reverse(fwd), sender);
      }),
      { numRuns: 500 },
    );
  });
});

describe('loadOrCreateSrsSecret', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lbx-srs-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('creates <data_dir>/srs.key 0600 once; later calls read the same key', async () => {
    const d = join(dir, 'a');
    const [k1, k2, k3] = await Promise.all([
      loadOrCreateSrsSecret(d),
      loadOrCreateSrsSecret(d),
      loadOrCreateSrsSecret(d),
    ]);
    assert.ok(k1.length >= 40);
    assert.deepEqual(k2, k1);
    assert.deepEqual(k3, k1);
    assert.deepEqual(await loadOrCreateSrsSecret(d), k1);
    const file = join(d, SRS_KEY_FILE);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await readFile(file, 'utf8')).trim(), k1.toString());
    // No temporary file left behind.
    const { readdir } = await import('node:fs/promises');
    assert.deepEqual(await readdir(d), [SRS_KEY_FILE]);
  });

  test('a key written by hand (postsrsd style) is used as it is, and narrowed to 0600', async () => {
    const d = join(dir, 'b');
    await loadOrCreateSrsSecret(d);
    await writeFile(join(d, SRS_KEY_FILE), 'my shared secret\nsecond line ignored\n', {
      mode: 0o644,
    });
    const { chmod } = await import('node:fs/promises');
    await chmod(join(d, SRS_KEY_FILE), 0o644);
    const k = await loadOrCreateSrsSecret(d);
    assert.equal(k.toString(), 'my shared secret');
    assert.equal((await stat(join(d, SRS_KEY_FILE))).mode & 0o777, 0o600);
    const srs = new Srs(k, { now: () => T0 });
    assert.equal(
      new Srs('my shared secret', { now: () => T0 }).reverse(srs.forward('a@b.c', 'x.y')),
      'a@b.c',
    );
  });

  test('an empty key file (crash before the bytes reached the disk) is replaced', async () => {
    const d = join(dir, 'c');
    await loadOrCreateSrsSecret(d);
    await writeFile(join(d, SRS_KEY_FILE), '');
    const k = await loadOrCreateSrsSecret(d);
    assert.ok(k.length >= 40);
    assert.equal((await stat(join(d, SRS_KEY_FILE))).mode & 0o777, 0o600);
  });

  test('an empty secret is refused by the constructor', () => {
    assert.throws(() => new Srs(''), /non-empty/);
  });
});
