// SEARCH of flags, sets and modseqs answered from the store's columns
// (src/imap/search/columns.ts; issue 18 item 6): the exact responses the search over records
// gives (RFC 9051 §6.4.4 keys and ESEARCH, RFC 3501 RECENT / NEW / OLD, RFC 7162 §3.1.5
// MODSEQ, RFC 5182 SAVE and `$`), whatever the mailbox's history: random flags and keywords,
// expunges that leave holes, and an expunge another session made that the view still holds.
import { after, before, describe, test } from 'node:test';
import { type ImapTestEnv, startImap } from './client.js';
import { columnsMatchRecords, SKIP_ON_POSTGRES } from './columns-vs-records.js';

describe('IMAP session: SEARCH from the columns', () => {
  let env: ImapTestEnv;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  test('the same answers as the search over records, after any flags and expunges', {
    skip: SKIP_ON_POSTGRES,
  }, async () => {
    await columnsMatchRecords(env, (modseq) => [
      'SEARCH UNSEEN',
      'SEARCH SEEN FLAGGED',
      'UID SEARCH NOT KEYWORD $work',
      'SEARCH OR ANSWERED KEYWORD later',
      'SEARCH 2:4 UNDELETED',
      'UID SEARCH UID 3:*',
      'SEARCH RECENT',
      'SEARCH NEW',
      'SEARCH OLD',
      'SEARCH *',
      'SEARCH ALL',
      'SEARCH RETURN (MIN MAX COUNT) UNSEEN',
      'SEARCH RETURN (SAVE) FLAGGED',
      'SEARCH $ SEEN',
      'UID SEARCH RETURN (ALL) OR $ KEYWORD $Changed',
      `SEARCH MODSEQ ${modseq}`,
      'SEARCH NOT MODSEQ 1 SEEN',
    ]);
  });
});
