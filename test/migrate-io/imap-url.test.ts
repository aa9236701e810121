// The pieces of `import imap` that need no server: the --from URL (refusals named), which
// hosts are loopback, the TLS policy handed to imapflow (STARTTLS required off loopback),
// folder names with the source's separator, and the UID runs of the state file.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectionOptions, mapFolderName, uidSet } from '../../src/migrate-io/imap-source.js';
import { addMapping, type FolderState, mappingLookup } from '../../src/migrate-io/imap-state.js';
import { isLoopbackHost, parseImapSourceUrl } from '../../src/migrate-io/imap-url.js';

describe('--from URL', () => {
  test('accepted', () => {
    const table: Array<[string, [boolean, string, number, string, boolean, string]]> = [
      [
        'imaps://dave@mail.example.com',
        [true, 'mail.example.com', 993, 'dave', false, 'imaps://dave@mail.example.com:993'],
      ],
      [
        'imap://dave%40example.com@mail.example.com:1143',
        [
          false,
          'mail.example.com',
          1143,
          'dave@example.com',
          false,
          'imap://dave%40example.com@mail.example.com:1143',
        ],
      ],
      // An unencoded @ in the user: the last one ends it.
      [
        'imaps://dave@example.com@127.0.0.1:9993/',
        [
          true,
          '127.0.0.1',
          9993,
          'dave@example.com',
          true,
          'imaps://dave%40example.com@127.0.0.1:9993',
        ],
      ],
      ['IMAP://u@[::1]', [false, '::1', 143, 'u', true, 'imap://u@[::1]:143']],
    ];
    for (const [text, want] of table) {
      const u = parseImapSourceUrl(text);
      assert.deepEqual([u.implicitTls, u.host, u.port, u.user, u.loopback, u.display], want, text);
    }
  });

  test('refused, saying why', () => {
    const table: Array<[string, RegExp]> = [
      ['mail.example.com', /not a URL/],
      ['pop3://u@h', /scheme must be imaps or imap/],
      ['imaps://u:secret@h', /must not carry the password/],
      ['imaps://h', /names no user/],
      ['imaps://u@h/INBOX', /only the user, host and port/],
      ['imaps://u@h?x=1', /only the user, host and port/],
      ['imaps://u@h:0', /port must be/],
      ['imaps://u@h:70000', /not a URL/],
      ['imaps://%ZZ@h', /percent-encoding/],
    ];
    for (const [text, want] of table) {
      assert.throws(() => parseImapSourceUrl(text), want, text);
    }
  });

  test('loopback hosts', () => {
    for (const h of [
      'localhost',
      'LOCALHOST',
      'a.localhost',
      '127.0.0.1',
      '127.3.2.1',
      '::1',
      '[::1]',
    ]) {
      assert.equal(isLoopbackHost(h), true, h);
    }
    for (const h of ['example.com', '10.0.0.1', '128.0.0.1', '::2', 'localhost.example.com']) {
      assert.equal(isLoopbackHost(h), false, h);
    }
  });
});

describe('TLS policy', () => {
  const opts = (url: string, o = {}) => connectionOptions(parseImapSourceUrl(url), 'pw', o);
  test('imaps: TLS from the first byte, certificates checked', () => {
    const o = opts('imaps://u@mail.example.com');
    assert.equal(o.secure, true);
    assert.equal(o.doSTARTTLS, undefined);
    assert.equal(o.tls?.rejectUnauthorized, true);
  });
  test('imap: STARTTLS required off loopback, not asked on loopback', () => {
    assert.equal(opts('imap://u@mail.example.com').doSTARTTLS, true);
    assert.equal(opts('imap://u@10.1.2.3').doSTARTTLS, true);
    assert.equal(opts('imap://u@127.0.0.1').doSTARTTLS, false);
    assert.equal(opts('imap://u@localhost').secure, false);
  });
  test('--insecure and --ca-file', () => {
    assert.equal(opts('imaps://u@h', { insecure: true }).tls?.rejectUnauthorized, false);
    const ca = Buffer.from('PEM');
    assert.equal(opts('imaps://u@h', { ca }).tls?.ca, ca);
  });
});

describe('folder names', () => {
  test('the source separator becomes ours', () => {
    const table: Array<[string, string | null, string, string]> = [
      ['INBOX', '.', '', 'INBOX'],
      ['inbox', '/', '', 'INBOX'],
      ['Work.Projects', '.', '', 'Work/Projects'],
      ['Work/Projects', '/', '', 'Work/Projects'],
      ['INBOX.Sent', '.', 'INBOX.', 'Sent'],
      ['INBOX.a.b', '.', 'INBOX.', 'a/b'],
      ['inbox.child', '.', '', 'INBOX/child'],
      ['Entwürfe', '/', '', 'Entwürfe'],
      ['Flat', null, '', 'Flat'],
      ['a\\b', '\\', '', 'a/b'],
    ];
    for (const [path, delim, prefix, want] of table) {
      assert.equal(mapFolderName(path, delim, prefix), want, path);
    }
  });
  test('a level holding our separator is refused', () => {
    assert.throws(() => mapFolderName('Q1/Q2.Reports', '.'), /holds "\/"/);
  });
});

describe('UID runs', () => {
  test('consecutive UIDs make one run; lookups find each', () => {
    const map: FolderState['map'] = [];
    for (const [s, d] of [
      [1, 1],
      [2, 2],
      [3, 3],
      [7, 4],
      [8, 5],
      [20, 9],
    ] as const) {
      addMapping(map, s, d);
    }
    assert.deepEqual(map, [
      [1, 1, 3],
      [7, 4, 2],
      [20, 9, 1],
    ]);
    const look = mappingLookup(map);
    assert.deepEqual(
      [1, 3, 4, 7, 8, 9, 20, 21, 0].map((u) => look(u)),
      [1, 3, undefined, 4, 5, undefined, 9, undefined, undefined],
    );
  });
  test('a UID mapped again after a resumed run is found', () => {
    const map: FolderState['map'] = [];
    for (let u = 1; u <= 5; u++) addMapping(map, u, u + 10);
    addMapping(map, 3, 13);
    addMapping(map, 9, 30);
    const look = mappingLookup(map);
    assert.deepEqual([look(3), look(5), look(9)], [13, 15, 30]);
  });
});

describe('UID sets', () => {
  test('runs become ranges', () => {
    assert.equal(uidSet([1, 2, 3, 5, 7, 8, 10]), '1:3,5,7:8,10');
    assert.equal(uidSet([4]), '4');
  });
});
