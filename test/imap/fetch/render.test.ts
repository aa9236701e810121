// renderFetch: names, order, lazy loading, \Seen signalling (RFC 9051 §6.4.5, §7.5.2).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { indexMessage } from '../../../src/delivery/local.js';
import {
  type FetchMessage,
  fetchSetsSeen,
  needsDetail,
  renderFetch,
} from '../../../src/imap/fetch/render.js';
import { parseFetchItems } from '../../../src/imap/wire/fetch-items.js';
import { argsFrom } from '../../../src/imap/wire/parser.js';
import { serialize, v } from '../../../src/imap/wire/serializer.js';
import type { MessageDetail } from '../../../src/store/types.js';

const raw = readFileSync(new URL('../../fixtures/mime/nested-3-deep.eml', import.meta.url));

interface Counts {
  detail: number;
  raw: number;
  extras?: number;
  cached?: string[];
}

function message(counts: Counts, preview: string | null = null): FetchMessage {
  const detail: MessageDetail = {
    uid: 42,
    messageId: 1,
    flags: ['\\Seen', '$Label1'],
    modseq: 7,
    size: raw.length,
    internalDate: new Date(Date.UTC(1996, 6, 17, 9, 44, 25)),
    blobHash: 'x',
    index: indexMessage(raw),
  };
  return {
    seq: 3,
    uid: 42,
    flags: detail.flags,
    modseq: 7,
    size: raw.length,
    internalDate: detail.internalDate,
    detail: async () => {
      counts.detail++;
      return detail;
    },
    raw: async () => {
      counts.raw++;
      return raw;
    },
    extras: async () => {
      counts.extras = (counts.extras ?? 0) + 1;
      return {
        emailId: 'Mabc',
        threadId: 'T-1_x',
        saveDate: new Date(Date.UTC(2026, 11, 4, 8, 9, 10)),
        preview,
      };
    },
    cachePreview: (text) => {
      counts.cached = [...(counts.cached ?? []), text];
    },
  };
}

async function render(items: string, opts = { utf8: false, condstore: false, uidAlways: false }) {
  const counts = { detail: 0, raw: 0 };
  const parsed = parseFetchItems(argsFrom(items));
  const r = await renderFetch(parsed, message(counts), opts);
  return { text: serialize(v.list(r.values)).toString('utf8'), counts, r };
}

describe('renderFetch', () => {
  test('FLAGS-only (and FAST) loads neither the index nor the blob', async () => {
    const { text, counts } = await render('FAST');
    assert.equal(
      text,
      `(FLAGS (\\Seen $Label1) INTERNALDATE "17-Jul-1996 09:44:25 +0000" RFC822.SIZE ${raw.length})`,
    );
    assert.deepEqual(counts, { detail: 0, raw: 0 });
  });

  test('UID FETCH puts UID first; CONDSTORE appends MODSEQ', async () => {
    const { text } = await render('(FLAGS)', { utf8: false, condstore: true, uidAlways: true });
    assert.equal(text, '(UID 42 FLAGS (\\Seen $Label1) MODSEQ (7))');
    const asked = await render('(MODSEQ UID)', { utf8: false, condstore: true, uidAlways: true });
    assert.equal(asked.text, '(MODSEQ (7) UID 42)');
  });

  test('ENVELOPE and BODYSTRUCTURE load the index once and never the blob', async () => {
    const { text, counts } = await render('(ENVELOPE BODYSTRUCTURE BODY)');
    assert.deepEqual(counts, { detail: 1, raw: 0 });
    assert.match(text, /^\(ENVELOPE \(NIL "three levels" /);
    assert.match(text, / BODYSTRUCTURE \(\(\("TEXT" "PLAIN" /);
    assert.match(text, / BODY \(\(\("TEXT" "PLAIN" \("CHARSET" "US-ASCII"\) NIL NIL "7BIT" 13 1\)/);
  });

  test('BODY[] needs only the blob; sections, partial origin, PEEK named BODY', async () => {
    const whole = await render('BODY.PEEK[]');
    assert.deepEqual(whole.counts, { detail: 0, raw: 1 });
    assert.equal(whole.text, `(BODY[] {${raw.length}}\r\n${raw.toString('latin1')})`);
    assert.equal(whole.r.setsSeen, false);
    const part = await render('(BODY[2]<2.4> BODY.PEEK[HEADER.FIELDS (Subject)])');
    assert.equal(
      part.text,
      '(BODY[2]<2> "ECAw" BODY[HEADER.FIELDS (Subject)] {25}\r\nSubject: three levels\r\n\r\n)',
    );
    assert.equal(part.r.setsSeen, true);
  });

  test('the message’s own sections need its bytes and never the index (issue 19)', async () => {
    for (const items of [
      'BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)]',
      'BODY.PEEK[HEADER.FIELDS.NOT (FROM)]',
      'BODY[HEADER]',
      'BODY[TEXT]<0.10>',
      '(RFC822.HEADER RFC822.TEXT RFC822)',
      'BINARY.PEEK[]',
    ]) {
      const { counts } = await render(items);
      assert.deepEqual(counts, { detail: 0, raw: 1 }, items);
    }
    const fields = await render('BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]');
    assert.equal(
      fields.text,
      '(BODY[HEADER.FIELDS (SUBJECT FROM)] {49}\r\nFrom: deep@example.com\r\nSubject: three levels\r\n\r\n)',
    );
  });

  test('needsDetail says whether renderFetch loads the index', async () => {
    for (const items of [
      'FAST',
      'FULL',
      '(UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])',
      'ENVELOPE',
      'BODYSTRUCTURE',
      'BODY[1]',
      'BODY[2.MIME]',
      'BODY[HEADER]',
      'BINARY[2]',
      'BINARY.SIZE[2]',
      'BINARY.SIZE[]',
      '(RFC822.SIZE RFC822.HEADER)',
    ]) {
      const { counts } = await render(items);
      assert.equal(needsDetail(parseFetchItems(argsFrom(items))), counts.detail > 0, items);
    }
    // PREVIEW needs the index when the preview is not at hand (extras say null here).
    assert.equal(needsDetail(parseFetchItems(argsFrom('PREVIEW'))), true);
  });

  test('RFC822 forms', async () => {
    const { text, r } = await render('(RFC822.HEADER RFC822.TEXT)');
    assert.match(text, /^\(RFC822\.HEADER \{\d+\}\r\nFrom: deep@example.com\r\n/);
    assert.match(text, / RFC822\.TEXT \{\d+\}\r\n--L1\r\n/);
    assert.equal(r.setsSeen, true);
  });

  test('BINARY with NUL is a literal8; BINARY.SIZE', async () => {
    const { text } = await render('(BINARY.PEEK[2] BINARY.SIZE[2] BINARY[2]<8.5>)');
    assert.equal(
      text,
      '(BINARY[2] ~{10}\r\n\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09 BINARY.SIZE[2] 10 BINARY[2]<8> "\x08\x09")',
    );
  });

  test('fetchSetsSeen', () => {
    const seen = (s: string) => fetchSetsSeen(parseFetchItems(argsFrom(s)));
    assert.equal(seen('(FLAGS BODY.PEEK[] BINARY.PEEK[1] RFC822.HEADER BODY)'), false);
    assert.equal(seen('RFC822'), true);
    assert.equal(seen('BODY[TEXT]'), true);
    assert.equal(seen('BINARY[1]'), true);
  });

  test('EMAILID, THREADID, SAVEDATE, PREVIEW: extras read once, the blob only for a preview not at hand', async () => {
    const counts: Counts = { detail: 0, raw: 0 };
    const items = parseFetchItems(argsFrom('(EMAILID THREADID SAVEDATE PREVIEW (LAZY))'));
    // LAZY and not at hand: NIL, and neither index nor blob read.
    const r = await renderFetch(items, message(counts), {
      utf8: false,
      condstore: false,
      uidAlways: true,
    });
    assert.equal(
      serialize(v.list(r.values)).toString(),
      '(UID 42 EMAILID (Mabc) THREADID (T-1_x) SAVEDATE " 4-Dec-2026 08:09:10 +0000" PREVIEW NIL)',
    );
    assert.deepEqual(counts, { detail: 0, raw: 0, extras: 1 });
    const c2: Counts = { detail: 0, raw: 0 };
    const p = await renderFetch(parseFetchItems(argsFrom('PREVIEW')), message(c2), {
      utf8: false,
      condstore: false,
      uidAlways: false,
    });
    assert.equal(serialize(v.list(p.values)).toString(), '(PREVIEW "plain version")');
    assert.deepEqual(c2, { detail: 1, raw: 1, extras: 1, cached: ['plain version'] });

    // At hand: no blob, nothing cached again, LAZY or not.
    for (const it of ['PREVIEW', 'PREVIEW (LAZY)']) {
      const c3: Counts = { detail: 0, raw: 0 };
      const q = await renderFetch(parseFetchItems(argsFrom(it)), message(c3, 'kept'), {
        utf8: false,
        condstore: false,
        uidAlways: false,
      });
      assert.equal(serialize(v.list(q.values)).toString(), '(PREVIEW "kept")');
      assert.deepEqual(c3, { detail: 0, raw: 0, extras: 1 });
    }
    // Items that do not need them never read the extras.
    const c4: Counts = { detail: 0, raw: 0 };
    await renderFetch(parseFetchItems(argsFrom('(FLAGS UID ENVELOPE)')), message(c4), {
      utf8: false,
      condstore: false,
      uidAlways: false,
    });
    assert.equal(c4.extras, undefined);
  });
});
