// The Maildir format's parts: flags in file names (with Dovecot's keyword letters),
// dovecot-keywords, dovecot-uidlist, Maildir++ folder names; each as a table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatDovecotKeywords,
  formatUidlist,
  maildirInfo,
  maildirppDir,
  maildirppFolderName,
  parseDovecotKeywords,
  parseMaildirName,
  parseSubscriptions,
  parseUidlist,
  parseUidlistHeader,
} from '../../src/migrate-io/maildir-format.js';

test('file name flags: P R S T D F, Dovecot keyword letters, the info part', () => {
  const kw = ['$Junk', '$NonJunk', 'project-x'];
  const cases: Array<[string, string, string[], boolean, string[]]> = [
    // name, base, flags, hasInfo, unknown letters
    ['1.M1P1.host', '1.M1P1.host', [], false, []],
    ['1.M1P1.host:2,', '1.M1P1.host', [], true, []],
    ['1.M1P1.host:2,S', '1.M1P1.host', ['\\Seen'], true, []],
    ['1.M1P1.host:2,R', '1.M1P1.host', ['\\Answered'], true, []],
    ['1.M1P1.host:2,T', '1.M1P1.host', ['\\Deleted'], true, []],
    ['1.M1P1.host:2,D', '1.M1P1.host', ['\\Draft'], true, []],
    ['1.M1P1.host:2,F', '1.M1P1.host', ['\\Flagged'], true, []],
    ['1.M1P1.host:2,P', '1.M1P1.host', ['$Forwarded'], true, []],
    [
      '1.M1P1.host,S=10,W=12:2,DFPRST',
      '1.M1P1.host,S=10,W=12',
      ['\\Draft', '\\Flagged', '$Forwarded', '\\Answered', '\\Seen', '\\Deleted'],
      true,
      [],
    ],
    ['x:2,Sac', 'x', ['\\Seen', '$Junk', 'project-x'], true, []],
    ['x:2,Sz', 'x', ['\\Seen'], true, ['z']],
    // Dovecot: a comma ends the flags; letters after it are not flags.
    ['x:2,S,F', 'x', ['\\Seen'], true, []],
    // Another info version carries no flags we know; an unknown capital is ignored.
    ['x:1,S', 'x', [], false, []],
    ['x:2,SX', 'x', ['\\Seen'], true, []],
    ['x:2,SS', 'x', ['\\Seen'], true, []],
  ];
  for (const [name, base, flags, hasInfo, unknown] of cases) {
    assert.deepEqual(
      parseMaildirName(name, kw),
      { base, flags, hasInfo, unknownLetters: unknown },
      name,
    );
  }
});

test('maildirInfo writes sorted letters, keywords by letter, nothing for the unwritable', () => {
  const letter = (k: string) => (k === '$Junk' ? 'a' : k === 'x' ? 'b' : null);
  assert.equal(maildirInfo([], letter), ':2,');
  assert.equal(maildirInfo(['\\Seen', '\\Answered', '\\Flagged'], letter), ':2,FRS');
  assert.equal(maildirInfo(['\\Deleted', '\\Draft', '$Forwarded'], letter), ':2,DPT');
  assert.equal(maildirInfo(['x', '$Junk', '\\Seen', 'nope', '\\Recent'], letter), ':2,Sab');
  assert.equal(maildirInfo(['\\seen', '$forwarded'], letter), ':2,PS');
});

test('dovecot-keywords: index to letter, bad lines skipped, round trip', () => {
  assert.deepEqual(parseDovecotKeywords('0 $Junk\n1 $NonJunk\n'), ['$Junk', '$NonJunk']);
  const sparse = parseDovecotKeywords('2 c\njunk line\n0 a\n26 beyond-z\n');
  assert.equal(sparse[0], 'a');
  assert.equal(sparse[1], undefined);
  assert.equal(sparse[2], 'c');
  assert.equal(sparse.length, 3);
  const kws = ['$Label1', 'work', '$Forwarded'];
  assert.deepEqual(parseDovecotKeywords(formatDovecotKeywords(kws)), kws);
});

test('dovecot-uidlist: versions 3 and 1, stale info parts, bad lines and headers', () => {
  const v3 = parseUidlist(
    '3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n' +
      '25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,\n' +
      '25017 W2481 :1276533073.M242911P3632.kurkku:2,F\n' +
      'garbage\n' +
      '0 :zero-is-no-uid\n' +
      '25018 :plain-name\n',
  );
  assert.ok(v3);
  assert.equal(v3.uidValidity, 1275660208);
  assert.equal(v3.uidNext, 25022);
  assert.deepEqual(
    [...v3.uids],
    [
      ['1276528487.M364837P9451.kurkku,S=1355,W=1394', 25006],
      ['1276533073.M242911P3632.kurkku', 25017],
      ['plain-name', 25018],
    ],
  );
  const v1 = parseUidlist('1 1100000000 5\n3 1099999999.123.host:2,S\n4 1099999999.124.host\n');
  assert.deepEqual(v1 && [...v1.uids], [
    ['1099999999.123.host', 3],
    ['1099999999.124.host', 4],
  ]);
  assert.equal(parseUidlist(''), null);
  assert.equal(parseUidlist('9 V1 N2\n'), null);
  assert.equal(parseUidlist('3 N2\n'), null, 'no UIDVALIDITY');
  assert.equal(parseUidlist('3 V0 N2\n'), null, 'UIDVALIDITY 0 is no nz-number');
  // The header alone (what a folder keeps before it is listed), from the first line only.
  assert.deepEqual(parseUidlistHeader('3 N25022 V1275660208 G3085\n25006 :a:2,\n'), {
    version: '3',
    uidValidity: 1275660208,
    uidNext: 25022,
  });
  assert.deepEqual(parseUidlistHeader('1 1100000000 5'), {
    version: '1',
    uidValidity: 1100000000,
    uidNext: 5,
  });
  assert.equal(parseUidlistHeader('garbage\n3 V1 N2\n'), null);
  assert.equal(parseUidlistHeader('3 V1 N0\n'), null, 'UIDNEXT 0 is no nz-number');
  const round = parseUidlist(
    formatUidlist(7, 10, [
      { uid: 3, name: 'a' },
      { uid: 9, name: 'b' },
    ]),
  );
  assert.deepEqual(round && [round.uidValidity, round.uidNext, [...round.uids]], [
    7,
    10,
    [
      ['a', 3],
      ['b', 9],
    ],
  ]);
});

test('Maildir++ folder names: dots are levels, modified UTF-7 decoded, round trip', () => {
  const cases: Array<[string, string | null]> = [
    ['.Sent', 'Sent'],
    ['.a.b.c', 'a/b/c'],
    ['.Entw&APw-rfe', 'Entwürfe'],
    ['.INBOX.sub', 'INBOX/sub'],
    // Empty levels stay for the store's name check to refuse (reported, not dropped).
    ['.a..b', 'a//b'],
    ['cur', null],
    ['.', null],
    ['..', null],
  ];
  for (const [dir, name] of cases) assert.equal(maildirppFolderName(dir), name, dir);
  for (const name of ['Sent', 'a/b/c', 'Entwürfe', 'Tom & Jerry']) {
    assert.equal(maildirppFolderName(maildirppDir(name)), name, name);
  }
  assert.equal(maildirppDir('INBOX'), '');
});

test("Dovecot's subscriptions: version 2 with TAB levels in modified UTF-7, and plain lists", () => {
  assert.deepEqual(parseSubscriptions('V\t2\n\nWork\nWork\tProjects\nEntw&APw-rfe\nINBOX\n'), [
    'Work',
    'Work/Projects',
    'Entwürfe',
    'INBOX',
  ]);
  assert.deepEqual(parseSubscriptions('Work\nWork.Projects\na/b.c\n'), [
    'Work',
    'Work/Projects',
    'a/b.c',
  ]);
  assert.deepEqual(parseSubscriptions(''), []);
});
