// A FETCH's plan (fetch/plan.ts): the handler's questions about its items, answered once per
// items object; the answers are the predicates' own, for every kind of item list.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fetchPlan, headerLine } from '../../../src/imap/fetch/plan.js';
import {
  allLight,
  columnRenderer,
  fetchSetsSeen,
  headerItemsOnly,
  needsBytes,
  needsDetail,
  needsExtras,
  needsHeaderOnly,
} from '../../../src/imap/fetch/render.js';
import { type FetchArgs, parseFetchArgs } from '../../../src/imap/wire/fetch-items.js';
import { argsFrom, ImapParseError, tryParse } from '../../../src/imap/wire/parser.js';

const parse = (text: string): FetchArgs => {
  const a = tryParse(() => parseFetchArgs(argsFrom(` 1:* ${text}`)));
  assert.ok(!(a instanceof ImapParseError), text);
  return a as FetchArgs;
};

const TEXTS = [
  '(UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])',
  '(UID FLAGS)',
  '(FLAGS MODSEQ)',
  'UID',
  '(UID RFC822.SIZE INTERNALDATE)',
  '(UID EMAILID)',
  'BODY[]',
  'BODY.PEEK[]',
  'BODY[HEADER]',
  'RFC822.HEADER',
  'RFC822',
  'RFC822.TEXT',
  '(ENVELOPE BODYSTRUCTURE)',
  'BODY.PEEK[1.MIME]',
  'BINARY.PEEK[1]',
  'BINARY.SIZE[1]',
  '(UID PREVIEW)',
  'BODY.PEEK[HEADER.FIELDS.NOT (X-A)]',
  '(UID FLAGS BODY.PEEK[HEADER]<0.100>)',
  'FAST',
  'ALL',
  'FULL',
];

test('a plan answers as the predicates do, for every kind of item list', () => {
  for (const text of TEXTS) {
    const items = parse(text).items;
    const p = fetchPlan(items);
    const simple = (n: string) => items.some((it) => it.kind === 'simple' && it.name === n);
    const withBytes = needsBytes(items);
    const headersOnly = withBytes && needsHeaderOnly(items);
    assert.deepEqual(
      {
        asksModseq: p.asksModseq,
        setsSeen: p.setsSeen,
        asksFlags: p.asksFlags,
        asksUid: p.asksUid,
        columnItems: p.columnItems,
        allLight: p.allLight,
        withExtras: p.withExtras,
        withDetail: p.withDetail,
        withBytes: p.withBytes,
        headersOnly: p.headersOnly,
        headerFast: p.headerFast,
      },
      {
        asksModseq: simple('MODSEQ'),
        setsSeen: fetchSetsSeen(items),
        asksFlags: simple('FLAGS'),
        asksUid: simple('UID'),
        columnItems:
          columnRenderer(items, { utf8: false, condstore: false, uidAlways: false }) !== null,
        allLight: allLight(items),
        withExtras: needsExtras(items),
        withDetail: needsDetail(items),
        withBytes,
        headersOnly,
        headerFast:
          headersOnly && !needsDetail(items) && !needsExtras(items) && headerItemsOnly(items),
      },
      text,
    );
  }
});

test('the same items get the same plan and the same line writer per options', () => {
  const a = parse('(UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])');
  const b = parse('(UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])');
  assert.equal(a.items, b.items, 'the parsed tail is kept (wire/fetch-items.ts)');
  const p = fetchPlan(a.items);
  assert.equal(fetchPlan(b.items), p);
  assert.ok(p.headerFast);
  const plain = { utf8: false, condstore: false, uidAlways: false };
  const w = headerLine(a.items, p, plain);
  assert.ok(w);
  assert.equal(headerLine(a.items, p, plain), w);
  const uid = headerLine(a.items, p, { ...plain, uidAlways: true });
  const cs = headerLine(a.items, p, { ...plain, condstore: true });
  assert.ok(uid && cs);
  assert.notEqual(uid, w);
  assert.notEqual(cs, w);
  assert.notEqual(cs, uid);
  // Items that are not headerFast's have no writer.
  const light = parse('(UID FLAGS)');
  assert.equal(headerLine(light.items, fetchPlan(light.items), plain), null);
});
