// First run (issue 16 item 9): the hostname a new server takes when none is given, and the
// start banner, which says what to do next from what the store holds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { banner } from '../../src/cli/commands/serve.js';
import { defaultHostname } from '../../src/cli/hostname.js';

test('defaultHostname: LETTERBOX_HOSTNAME, else the FQDN, else the short name, else localhost', async () => {
  const fqdn = (name: string | null) => async () => name;
  const cases: Array<[NodeJS.ProcessEnv, string, string | null, string, string]> = [
    [
      { LETTERBOX_HOSTNAME: ' mx.env.test ' },
      'box',
      'box.lan.test',
      'mx.env.test',
      'LETTERBOX_HOSTNAME',
    ],
    [{}, 'Mail.Example.TEST', null, 'mail.example.test', "the machine's FQDN"],
    [{}, 'box', 'box.example.test', 'box.example.test', "the machine's FQDN"],
    [{}, 'box', null, 'box', "the machine's name (it has no FQDN)"],
    [{}, 'box', 'localhost.localdomain', 'box', "the machine's name (it has no FQDN)"],
    [
      { LETTERBOX_HOSTNAME: '' },
      'localhost',
      null,
      'localhost',
      'a fallback (the machine has no usable name)',
    ],
    [{}, '', null, 'localhost', 'a fallback (the machine has no usable name)'],
    [{}, 'not a name!', null, 'localhost', 'a fallback (the machine has no usable name)'],
  ];
  for (const [env, system, resolved, name, source] of cases) {
    assert.deepEqual(await defaultHostname(env, system, fqdn(resolved)), { name, source }, system);
  }
});

test('the banner: listeners (IPv6 in brackets) and the next step from what the store holds', () => {
  const server = {
    listeners: [
      { name: 'smtp' as const, tls: 'starttls' as const, host: '::', port: 25 },
      { name: 'imaps' as const, tls: 'implicit' as const, host: '127.0.0.1', port: 993 },
    ],
    unavailable: [],
  };
  const empty = banner(server, '/d/letterbox.toml', 'mx.example.test', {
    domains: [],
    accounts: 0,
  });
  assert.match(
    empty,
    /^letterbox is running as mx\.example\.test \(config \/d\/letterbox\.toml\)$/m,
  );
  assert.match(empty, /^ {2}smtp {9}\[::\]:25 \(STARTTLS\)$/m);
  assert.match(empty, /^ {2}imaps {8}127\.0\.0\.1:993 \(TLS\)$/m);
  assert.match(
    empty,
    /Add your first domain and account:\n.*domain add example\.com\n.*user add you@example\.com/,
  );

  const domainOnly = banner(server, '/d/l.toml', 'h', { domains: ['example.org'], accounts: 0 });
  assert.match(
    domainOnly,
    /No accounts yet in example\.org\. Add the first:\n.*user add you@example\.org/,
  );
  assert.doesNotMatch(domainOnly, /domain add/);

  const some = banner(server, '/d/l.toml', 'h', {
    domains: ['a.test', 'b.test', 'c.test', 'd.test'],
    accounts: 12,
  });
  assert.match(
    some,
    /^12 accounts in 4 domains \(a\.test, b\.test, c\.test, \.\.\.\); list them with:$/m,
  );
  assert.doesNotMatch(some, /user add|domain add/);
  const one = banner(server, '/d/l.toml', 'h', { domains: ['a.test'], accounts: 1 });
  assert.match(one, /^1 account in 1 domain \(a\.test\)/m);
  assert.match(one, /Stop with Ctrl-C/);
});
