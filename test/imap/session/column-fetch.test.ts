// FETCH of UID / FLAGS / MODSEQ over many messages answered from the store's columns
// (MessageStore.flagColumns, src/imap/commands/fetch.ts columnFetch, and runFetch along the
// runs of a sequence set without its UIDs as an array; issue 18 item 6): the exact bytes the
// record path gives (RFC 9051 §7.5.2 FETCH responses, §2.3.1.2 sequence numbers, §9 sequence
// sets, RFC 7162 §3.1.4 MODSEQ and CHANGEDSINCE, RFC 3501 §2.3.2 \Recent), whatever the
// mailbox's history: random flags and keywords, expunges that leave holes, and a STORE, an
// EXPUNGE and APPENDs by another session that this session's view has not announced (RFC
// 9051 §7.5.1: no EXPUNGE during FETCH).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ImapTestEnv, startImap } from './client.js';
import { columnsMatchRecords, SKIP_ON_POSTGRES } from './columns-vs-records.js';

describe('IMAP session: FETCH flags from the columns', () => {
  let env: ImapTestEnv;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  test('the same bytes as the record path, after any flags, expunges and appends', {
    skip: SKIP_ON_POSTGRES,
  }, async () => {
    await columnsMatchRecords(
      env,
      (modseq, [a, b]) => [
        'UID FETCH 1:* (UID FLAGS)',
        'FETCH 1:* (FLAGS)',
        'FETCH 1:* (FLAGS UID)',
        'UID FETCH 1:* (FLAGS MODSEQ)',
        `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq})`,
        'FETCH 2:* (MODSEQ)',
        // Ranges, single numbers and `*` (RFC 9051 §9), by UID and by sequence number.
        `UID FETCH ${a} (UID FLAGS)`,
        `FETCH ${a} (FLAGS)`,
        `UID FETCH ${b} (FLAGS MODSEQ)`,
        `FETCH ${b} (UID MODSEQ) (CHANGEDSINCE ${modseq})`,
      ],
      // Something was answered whenever messages are left after both expunges.
      (columns, left) => {
        if (left.size > 0) assert.ok(columns[0]!.length > 1);
      },
    );
  });
});
