// `letterbox dns DOMAIN [--json] [--check]` as an operator runs it: the records printed as
// zone-file lines and as JSON, and --check against a DNS server on loopback (dns2) that
// publishes some of them right, one wrong, one missing.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';

interface JsonRecord {
  kind: string;
  name: string;
  type: 'MX' | 'TXT' | 'SRV' | 'CNAME';
  value: string | null;
  status?: string;
  found?: string[];
  note?: string;
}

/** Publishes records as `letterbox dns --json` gives them. */
function publish(dns: TestDnsServer, records: JsonRecord[]): void {
  for (const r of records) {
    if (r.value === null) continue;
    const parts = r.value.split(' ');
    if (r.type === 'MX') {
      dns.add(r.name, 'MX', [
        { priority: Number(parts[0]), exchange: parts[1]!.replace(/\.$/, '') },
      ]);
    } else if (r.type === 'SRV') {
      const [priority, weight, port, target] = parts;
      dns.add(r.name, 'SRV', [
        {
          priority: Number(priority),
          weight: Number(weight),
          port: Number(port),
          target: target!.replace(/\.$/, ''),
        },
      ]);
    } else if (r.type === 'CNAME') dns.add(r.name, 'CNAME', r.value.replace(/\.$/, ''));
    else dns.add(r.name, 'TXT', [r.value]);
  }
}

describe('letterbox dns', () => {
  let dir: string;
  let cfg: string;
  let dns: TestDnsServer;
  let records: JsonRecord[];
  const lb = (args: string[]) => runCli(['--config', cfg, ...args]);

  before(async () => {
    dns = await startDnsServer();
    dir = await mkdtemp(join(tmpdir(), 'lb-cli-dns-'));
    const data = join(dir, 'data');
    cfg = join(data, 'letterbox.toml');
    const init = await runCli(['init', '--dir', data, '--hostname', 'mail.example.test']);
    assert.equal(init.code, 0, init.stderr);
    const toml = await readFile(cfg, 'utf8');
    assert.match(toml, /^servers = \[\]/m);
    await writeFile(
      cfg,
      toml
        .replace(/^servers = \[\]/m, `servers = ["${dns.address}"]`)
        .replace(/^timeout_ms = 2000/m, 'timeout_ms = 1000'),
    );
    for (const args of [
      ['domain', 'add', 'example.test'],
      ['domain', 'add', 'nokey.test'],
      ['dkim', 'generate', 'example.test'],
    ]) {
      const r = await lb(args);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    await dns.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('zone-file lines for every record, with the MTA-STS policy to serve', async () => {
    const r = await lb(['dns', 'example.test']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const expect = [
      'example.test.\tIN\tMX\t10 mail.example.test.',
      'example.test.\tIN\tTXT\t"v=spf1 mx -all"',
      '_dmarc.example.test.\tIN\tTXT\t"v=DMARC1; p=quarantine; rua=mailto:postmaster@example.test"',
      '_smtp._tls.example.test.\tIN\tTXT\t"v=TLSRPTv1; rua=mailto:postmaster@example.test"',
      // The config's ports (init writes the development ones); implicit TLS preferred.
      '_submissions._tcp.example.test.\tIN\tSRV\t0 1 2465 mail.example.test.',
      '_submission._tcp.example.test.\tIN\tSRV\t10 1 2587 mail.example.test.',
      '_imaps._tcp.example.test.\tIN\tSRV\t0 1 2993 mail.example.test.',
      '_imap._tcp.example.test.\tIN\tSRV\t10 1 2143 mail.example.test.',
      '_pop3s._tcp.example.test.\tIN\tSRV\t0 1 2995 mail.example.test.',
      '_pop3._tcp.example.test.\tIN\tSRV\t10 1 2110 mail.example.test.',
      // Where Thunderbird and Outlook ask for their settings (the http listener is on).
      'autoconfig.example.test.\tIN\tCNAME\tmail.example.test.',
      'autodiscover.example.test.\tIN\tCNAME\tmail.example.test.',
      ';   version: STSv1',
      ';   mode: testing',
      ';   mx: mail.example.test',
      ';   max_age: 604800',
    ];
    for (const e of expect) assert.ok(lines.includes(e), `missing line: ${e}\n${r.stdout}`);
    assert.ok(
      lines.some((l) => l.includes('https://mta-sts.example.test/.well-known/mta-sts.txt')),
    );
    assert.ok(
      lines.some((l) => /^_mta-sts\.example\.test\.\tIN\tTXT\t"v=STSv1; id=[0-9a-f]{20}"$/.test(l)),
    );
    assert.ok(
      lines.some((l) =>
        /^lb\d{6}-rsa\._domainkey\.example\.test\.\tIN\tTXT\t"v=DKIM1; k=rsa; p=\S+" "\S+"$/.test(
          l,
        ),
      ),
    );
    assert.ok(
      lines.some((l) =>
        /^lb\d{6}-ed25519\._domainkey\.example\.test\.\tIN\tTXT\t"v=DKIM1; k=ed25519; p=\S+"$/.test(
          l,
        ),
      ),
    );
    // Every line is a comment or a record.
    for (const l of lines.filter((x) => x !== ''))
      assert.match(l, /^(;|\S+\.\tIN\t(MX|TXT|SRV|CNAME)\t)/);
    // The id is a function of the policy: the same on each run.
    assert.equal((await lb(['dns', 'example.test'])).stdout, r.stdout);
  });

  test('--json: the records, and the policy with its URL', async () => {
    const r = await lb(['dns', 'example.test', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.domain, 'example.test');
    assert.equal(out.hostname, 'mail.example.test');
    assert.equal(out.mtaSts.url, 'https://mta-sts.example.test/.well-known/mta-sts.txt');
    assert.equal(
      out.mtaSts.policy,
      'version: STSv1\nmode: testing\nmx: mail.example.test\nmax_age: 604800\n',
    );
    records = out.records;
    assert.deepEqual(
      records.map((x) => x.kind),
      [
        'mx',
        'spf',
        'dkim',
        'dkim',
        'dmarc',
        'mta-sts',
        'tls-rpt',
        'srv',
        'srv',
        'srv',
        'srv',
        'srv',
        'srv',
        'autoconfig',
        'autoconfig',
      ],
    );
  });

  test('--check: all published and right: exit 0', async () => {
    publish(dns, records);
    dns.add('mail.example.test', 'A', ['127.0.0.1']);
    const r = await lb(['dns', 'example.test', '--check']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const statuses = r.stdout.split('\n').filter((l) => /^\w+\s+(MX|TXT|SRV|CNAME)\s/.test(l));
    assert.equal(statuses.length, 15);
    for (const s of statuses) assert.match(s, /^ok\s/);
    assert.match(r.stdout, /all 15 DNS records of example\.test are ok/);
  });

  test('--check: one wrong (another DKIM key), one missing (DMARC), one lookup failing', async () => {
    const rsa = records.find((x) => x.kind === 'dkim' && x.value!.includes('k=rsa'))!;
    const other = records.find((x) => x.kind === 'dkim' && x.value!.includes('k=ed25519'))!;
    dns.set(rsa.name, { TXT: [`v=DKIM1; k=rsa; p=${'A'.repeat(392)}`] });
    dns.remove('_dmarc.example.test');
    dns.fail('_smtp._tls.example.test', 'SERVFAIL');
    dns.set('_imap._tcp.example.test', {
      SRV: [{ priority: 10, weight: 1, port: 143, target: 'mail.example.test' }],
    });
    try {
      const r = await lb(['dns', 'example.test', '--check']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        /^letterbox: 4 of 15 DNS records of example\.test are missing or wrong\n$/,
      );
      const out = r.stdout;
      assert.match(
        out,
        new RegExp(
          `^wrong\\s+TXT\\s+${rsa.name.replace(/\./g, '\\.')}\\.\\n\\s+expected: "v=DKIM1; k=rsa; p=`,
          'm',
        ),
      );
      assert.match(out, /^\s+found:\s+"v=DKIM1; k=rsa; p=AAAA+"\n\s+another public key$/m);
      assert.match(
        out,
        /^missing\s+TXT\s+_dmarc\.example\.test\.\n\s+expected: "v=DMARC1; p=quarantine; /m,
      );
      assert.match(
        out,
        /^error\s+TXT\s+_smtp\._tls\.example\.test\.\n[^\n]*\n\s+lookup failed: ESERVFAIL$/m,
      );
      assert.match(
        out,
        /^wrong\s+SRV\s+_imap\._tcp\.example\.test\.\n\s+expected: 10 1 2143 mail\.example\.test\.\n\s+found:\s+10 1 143 mail\.example\.test\./m,
      );
      assert.match(out, new RegExp(`^ok\\s+TXT\\s+${other.name.replace(/\./g, '\\.')}\\.$`, 'm'));
      assert.match(out, /^ok\s+MX\s+example\.test\.$/m);

      const j = await lb(['dns', 'example.test', '--check', '--json']);
      assert.equal(j.code, 1);
      const byName = new Map<string, JsonRecord>(
        JSON.parse(j.stdout).records.map((x: JsonRecord) => [`${x.kind} ${x.name}`, x]),
      );
      assert.equal(byName.get(`dkim ${rsa.name}`)!.status, 'wrong');
      assert.equal(byName.get('dmarc _dmarc.example.test')!.status, 'missing');
      assert.equal(byName.get('tls-rpt _smtp._tls.example.test')!.status, 'error');
      assert.equal(byName.get('srv _imap._tcp.example.test')!.status, 'wrong');
      assert.deepEqual(byName.get('srv _imap._tcp.example.test')!.found, [
        '10 1 143 mail.example.test.',
      ]);
      assert.equal(byName.get('spf example.test')!.status, 'ok');
    } finally {
      dns.fail('_smtp._tls.example.test', null);
    }
  });

  test('--check: the MX host without an address, SPF not naming it, a second DMARC record', async () => {
    dns.remove('mail.example.test');
    dns.set('example.test', {
      MX: [{ priority: 10, exchange: 'mail.example.test' }],
      TXT: ['v=spf1 ip4:192.0.2.1 -all'],
    });
    dns.set('_dmarc.example.test', { TXT: ['v=DMARC1; p=none', 'v=DMARC1; p=reject'] });
    const r = await lb(['dns', 'example.test', '--check', '--json']);
    assert.equal(r.code, 1);
    const recs: JsonRecord[] = JSON.parse(r.stdout).records;
    const mx = recs.find((x) => x.kind === 'mx')!;
    assert.equal(mx.status, 'wrong');
    assert.match(mx.note!, /mail\.example\.test has no A or AAAA record/);
    const spf = recs.find((x) => x.kind === 'spf')!;
    assert.equal(spf.status, 'wrong');
    assert.deepEqual(spf.found, ['v=spf1 ip4:192.0.2.1 -all']);
    const dmarc = recs.find((x) => x.kind === 'dmarc')!;
    assert.equal(dmarc.status, 'wrong');
    assert.match(dmarc.note!, /several v=DMARC1 records/);
  });

  test('--check: autoconfig hosts by A record (ok), CNAME elsewhere (wrong), absent (missing)', async () => {
    const check = async () => {
      const r = await lb(['dns', 'example.test', '--check', '--json']);
      const recs: JsonRecord[] = JSON.parse(r.stdout).records;
      return (name: string) => recs.find((x) => x.name === name)!;
    };
    dns.set('mail.example.test', { A: ['192.0.2.7'] });
    dns.set('autoconfig.example.test', { A: ['192.0.2.7'] });
    dns.set('autodiscover.example.test', { CNAME: 'www.elsewhere.test' });
    dns.set('www.elsewhere.test', { A: ['198.51.100.1'] });
    let rec = await check();
    assert.equal(rec('autoconfig.example.test').status, 'ok');
    const wrong = rec('autodiscover.example.test');
    assert.equal(wrong.status, 'wrong');
    assert.deepEqual(wrong.found, ['www.elsewhere.test.', '198.51.100.1']);
    assert.match(wrong.note!, /does not lead to mail\.example\.test/);
    dns.remove('autodiscover.example.test');
    rec = await check();
    assert.equal(rec('autodiscover.example.test').status, 'missing');
  });

  test('a domain without DKIM keys says so; a domain not served here is refused', async () => {
    const r = await lb(['dns', 'nokey.test']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^; DKIM: nokey\.test has no key yet: run `letterbox dkim generate nokey\.test`$/m,
    );
    const c = await lb(['dns', 'nokey.test', '--check', '--json']);
    assert.equal(c.code, 1);
    const dkim = JSON.parse(c.stdout).records.find((x: JsonRecord) => x.kind === 'dkim');
    assert.equal(dkim.status, 'missing');

    const other = await lb(['dns', 'example.org']);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /^letterbox: example\.org is not a local domain/);
  });
});
