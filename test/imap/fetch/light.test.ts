// lightRenderer (the text path of FETCH for row-only items) gives byte for byte what
// renderFetch + serialize give, for any mix of UID, FLAGS, INTERNALDATE, RFC822.SIZE, MODSEQ,
// EMAILID, THREADID and SAVEDATE, any flags (including ones that cannot be atoms and are left
// out), any options.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { allLight, lightRenderer, renderFetch } from '../../../src/imap/fetch/render.js';
import { parseFetchItems } from '../../../src/imap/wire/fetch-items.js';
import { argsFrom } from '../../../src/imap/wire/parser.js';
import { serialize, v } from '../../../src/imap/wire/serializer.js';

const items = fc
  .array(
    fc.constantFrom(
      'UID',
      'FLAGS',
      'INTERNALDATE',
      'RFC822.SIZE',
      'MODSEQ',
      'EMAILID',
      'THREADID',
      'SAVEDATE',
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((names) => parseFetchItems(argsFrom(`(${names.join(' ')})`)));

const flag = fc.oneof(
  fc.constantFrom('\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '$Forwarded'),
  fc.string({ minLength: 1, maxLength: 8 }),
);

test('lightRenderer equals renderFetch + serialize', async () => {
  await fc.assert(
    fc.asyncProperty(
      items,
      fc.array(flag, { maxLength: 5 }),
      fc.integer({ min: 1, max: 2 ** 32 - 1 }),
      fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: 0, max: 2 ** 31 }),
      fc.integer({ min: 0, max: 4102444800000 }),
      fc.record({ utf8: fc.boolean(), condstore: fc.boolean(), uidAlways: fc.boolean() }),
      fc.record({
        emailId: fc.stringMatching(/^[A-Za-z0-9_-]{1,30}$/),
        threadId: fc.stringMatching(/^[A-Za-z0-9_-]{1,30}$/),
        saveDate: fc.integer({ min: 0, max: 4102444800000 }).map((t) => new Date(t)),
        preview: fc.constant(null),
      }),
      async (its, flags, uid, modseq, size, when, opts, extras) => {
        assert.ok(allLight(its));
        const msg = {
          seq: 1,
          uid,
          flags,
          modseq,
          size,
          internalDate: new Date(when),
          detail: () => Promise.reject(new Error('not needed')),
          raw: () => Promise.reject(new Error('not needed')),
          extras: async () => extras,
        };
        const tree = serialize(v.list((await renderFetch(its, msg, opts)).values));
        assert.deepEqual(Buffer.from(lightRenderer(its, opts)(msg, extras), 'latin1'), tree);
      },
    ),
    { numRuns: 500 },
  );
});
