// renderHeaderFetch (FETCH of row items and the message's own header sections, rendered at
// once from bytes already read; issue 19) gives the values renderFetch gives, serialized byte
// for byte, for any mix of the items headerItemsOnly accepts, any flags, options and message
// bytes, from the whole message or from its header block (what BlobStore.readHeaders gives);
// headerLineRenderer (fetch/header-line.ts) writes the same lines without the values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { headerLineRenderer } from '../../../src/imap/fetch/header-line.js';
import { headerItemsOnly, renderFetch, renderHeaderFetch } from '../../../src/imap/fetch/render.js';
import { joinOutput } from '../../../src/imap/session.js';
import { parseFetchItems } from '../../../src/imap/wire/fetch-items.js';
import { argsFrom } from '../../../src/imap/wire/parser.js';
import { serialize, serializeLineParts, v } from '../../../src/imap/wire/serializer.js';
import { HeaderCache } from '../../../src/store/header-cache.js';

const HEADER_ITEMS = [
  'BODY.PEEK[HEADER]',
  'BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)]',
  'BODY.PEEK[HEADER.FIELDS.NOT (subject)]',
  'BODY.PEEK[HEADER.FIELDS (X-Nope)]<0.5>',
  'BODY.PEEK[HEADER]<3.40>',
  'RFC822.HEADER',
];
const ROW_ITEMS = ['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'MODSEQ'];

const items = fc
  .tuple(
    fc.array(fc.constantFrom(...ROW_ITEMS, ...HEADER_ITEMS), { maxLength: 5 }),
    fc.constantFrom(...HEADER_ITEMS),
    fc.nat(5),
  )
  .map(([names, header, at]) => {
    names.splice(Math.min(at, names.length), 0, header);
    return parseFetchItems(argsFrom(`(${names.join(' ')})`));
  });

// A row's UID, MODSEQ and INTERNALDATE (ms), and the session's rendering options.
const uidArb = fc.integer({ min: 1, max: 2 ** 32 - 1 });
const modseqArb = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const whenArb = fc.integer({ min: 0, max: 4102444800000 });
const optsArb = fc.record({ utf8: fc.boolean(), condstore: fc.boolean(), uidAlways: fc.boolean() });

const flag = fc.oneof(
  fc.constantFrom('\\Seen', '\\Answered', '\\Recent', '$Forwarded'),
  fc.string({ minLength: 1, maxLength: 8 }),
);

const message = fc
  .array(
    fc.constantFrom(
      'From: a@example.test\r\n',
      'Subject: hello\r\n',
      'subject: again\r\n folded\r\n',
      'Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n',
      'X-A b: c\r\n',
      '\r\n',
      '\n',
      'body text\r\n',
      'é',
    ),
    { maxLength: 12 },
  )
  .map((parts) => Buffer.from(parts.join(''), 'utf8'));

test('headerItemsOnly: row items and PEEK header sections of the message itself only', () => {
  const ok = (s: string) => headerItemsOnly(parseFetchItems(argsFrom(s)));
  assert.equal(ok('(UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])'), true);
  assert.equal(ok('RFC822.HEADER'), true);
  assert.equal(ok('(UID FLAGS)'), false, 'no header section: the light path');
  assert.equal(ok('BODY[HEADER]'), false, 'sets \\Seen');
  assert.equal(ok('BODY.PEEK[1.HEADER]'), false, 'a part');
  assert.equal(ok('(BODY.PEEK[HEADER] BODY.PEEK[TEXT])'), false);
  assert.equal(ok('(BODY.PEEK[HEADER] ENVELOPE)'), false);
  assert.equal(ok('(BODY.PEEK[HEADER] EMAILID)'), false);
  assert.equal(ok('(BODY.PEEK[HEADER] RFC822)'), false);
  assert.equal(ok('(BODY.PEEK[HEADER] BINARY.PEEK[1])'), false);
});

test('renderHeaderFetch equals renderFetch + serialize, from the message or its header block', async () => {
  await fc.assert(
    fc.asyncProperty(
      items,
      fc.array(flag, { maxLength: 4 }),
      uidArb,
      modseqArb,
      whenArb,
      optsArb,
      message,
      fc.boolean(),
      async (its, flags, uid, modseq, when, opts, raw, fromBlock) => {
        assert.ok(headerItemsOnly(its));
        const msg = {
          seq: 1,
          uid,
          flags,
          modseq,
          size: raw.length,
          internalDate: new Date(when),
          detail: () => Promise.reject(new Error('not needed')),
          raw: async () => raw,
          extras: () => Promise.reject(new Error('not needed')),
        };
        const want = serialize(v.list((await renderFetch(its, msg, opts)).values), opts);
        const bytes = fromBlock ? new HeaderCache(1 << 20).put('h', raw) : raw;
        // Twice: a block's HEADER.FIELDS the second time from what the first kept with it.
        for (let i = 0; i < 2; i++) {
          const got = serialize(
            v.list(renderHeaderFetch(its, msg, flags, bytes, fromBlock, opts)),
            opts,
          );
          assert.deepEqual(got, want);
        }
      },
    ),
    { numRuns: 1000 },
  );
});

test('headerLineRenderer writes the bytes renderHeaderFetch serializes, or leaves a line to it', async () => {
  // 8-bit keywords too: the serializer writes them as latin1 bytes, as their atoms.
  const anyFlag = fc.oneof(flag, fc.constantFrom('$Étiqueté', 'Ü', 'жук', '\\Flagged'));
  let written = 0;
  await fc.assert(
    fc.asyncProperty(
      items,
      fc.array(anyFlag, { maxLength: 4 }),
      uidArb,
      modseqArb,
      whenArb,
      optsArb,
      message,
      fc.boolean(),
      fc.integer({ min: 1, max: 100_000 }),
      async (its, flags, uid, modseq, when, opts, raw, fromBlock, seq) => {
        const msg = { uid, modseq, size: raw.length, internalDate: new Date(when) };
        const bytes = fromBlock ? new HeaderCache(1 << 20).put('h', raw) : raw;
        const values = renderHeaderFetch(its, msg, flags, bytes, fromBlock, opts);
        const parts = serializeLineParts(`* ${seq} FETCH `, v.list(values), opts);
        const want = joinOutput(
          parts,
          parts.reduce((n, p) => n + Buffer.byteLength(p), 0),
        );
        const line = headerLineRenderer(its, opts);
        assert.ok(line, 'every label here is ASCII');
        const got = line(msg, flags, bytes, fromBlock);
        // Null leaves the line to the serializer (a section without a line end, which may
        // go as a quoted string); the fallback writes `want` itself.
        if (got === null) return;
        written++;
        // The line after its `* n FETCH (`, which the session writes (fetch/line-cache.ts).
        assert.deepEqual(Buffer.concat([Buffer.from(`* ${seq} FETCH (`), got]), want);
      },
    ),
    // A failure is reported at once, unshrunk: shrinking nine values of an async property ran
    // for minutes.
    { numRuns: 1000, endOnFailure: true },
  );
  assert.ok(written > 500, `most lines written by the renderer (${written})`);
});
