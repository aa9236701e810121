// SEARCH of flags, sets and modseqs answered from the store's columns
// (src/imap/search/columns.ts; issue 18 item 6): the exact responses the search over records
// gives (RFC 9051 §6.4.4 keys and ESEARCH, RFC 3501 RECENT / NEW / OLD, RFC 7162 §3.1.5
// MODSEQ, RFC 5182 SAVE and `$`), whatever the mailbox's history: random flags and keywords,
// expunges that leave holes, and an expunge another session made that the view still holds.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { newMessage } from '../../helpers/messages.js';
import { type ImapTestEnv, type RawClient, startImap } from './client.js';

const FLAGS = ['\\Seen', '\\Flagged', '\\Answered', '$Work', 'Later'];

describe('IMAP session: SEARCH from the columns', () => {
  let env: ImapTestEnv;
  let box = 0;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  // The columns are the SQLite store's (PostgreSQL has no flagColumns, so both sessions would
  // take the record path), and PostgreSQL's change events reach the sessions asynchronously
  // (LISTEN/NOTIFY): the two views could differ by an expunge heard by one and not yet the other.
  const onPostgres = process.env.LETTERBOX_TEST_STORE === 'postgres';
  test('the same answers as the search over records, after any flags and expunges', {
    skip: onPostgres && 'SQLite columns; PostgreSQL events are asynchronous',
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.subarray(FLAGS), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat({ max: 39 }), { maxLength: 10 }),
        fc.nat({ max: 39 }),
        async (flagLists, expunge, goneLater) => {
          const store = env.ts.server.ctx.store;
          const name = `C${++box}`;
          const mb = await store.createMailbox(env.accountId, name);
          for (let i = 0; i < flagLists.length; i++)
            await store.append(newMessage(`c${box}-${i}`), [
              { mailboxId: mb.id, flags: flagLists[i]! },
            ]);
          const gone = [...new Set(expunge)].map((i) => i + 1).filter((u) => u <= flagLists.length);
          if (gone.length > 0) await store.expunge(mb.id, { uids: gone, onlyDeleted: false });
          const modseq = (await store.getMailbox(env.accountId, name))!.highestModseq;
          // One session per path (a MODSEQ item enables CONDSTORE for the rest of it).
          const [c1, c2] = [await env.login(), await env.login()];
          try {
            // EXAMINE: neither takes \Recent (RFC 3501 §6.3.2), so both see it the same.
            await c1.cmd('s', `EXAMINE ${name}`);
            await c2.cmd('s', `EXAMINE ${name}`);
            // Expunged by someone else now: the views still number it, the columns lack it.
            await store.expunge(mb.id, { uids: [goneLater + 1], onlyDeleted: false });
            await store.setFlags(mb.id, [1, 2, 3], 'add', ['$Changed']);
            const commands = [
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
            ];
            const answer = async (c: RawClient) => {
              const out: string[][] = [];
              for (const cmd of commands) out.push(await c.cmd('f', cmd));
              return out;
            };
            const columns = await answer(c1);
            const saved = store.flagColumns;
            store.flagColumns = undefined;
            let records: string[][];
            try {
              records = await answer(c2);
            } finally {
              store.flagColumns = saved;
            }
            assert.deepEqual(columns, records);
          } finally {
            c1.close();
            c2.close();
          }
        },
      ),
      { numRuns: 12 },
    );
  });
});
