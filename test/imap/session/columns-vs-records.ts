// The property both column tests check (column-fetch, column-search): for a mailbox of random
// flags and keywords with expunges that leave holes, and an expunge, flag changes and appends
// another session made that the views have not announced yet, commands answered from the
// store's columns give the very bytes the record path gives (the second session runs them
// with flagColumns taken away).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { newMessage } from '../../helpers/messages.js';
import { append, type ImapTestEnv, message, type RawClient } from './client.js';

const FLAGS = ['\\Seen', '\\Flagged', '\\Answered', '$Work', 'Later'];

/**
 * The columns are the SQLite store's (PostgreSQL has no flagColumns, so both sessions would
 * take the record path), and PostgreSQL's change events reach the sessions asynchronously
 * (LISTEN/NOTIFY): the two views could differ by an expunge heard by one and not yet the other.
 */
export const SKIP_ON_POSTGRES =
  process.env.LETTERBOX_TEST_STORE === 'postgres' &&
  'SQLite columns; PostgreSQL events are asynchronous';

let box = 0;

/** A sequence set of up to four ranges over 1..45 and `*` (RFC 9051 §9 sequence-set). */
export const sequenceSet: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.oneof(fc.integer({ min: 1, max: 45 }), fc.constant('*')),
      fc.option(fc.oneof(fc.integer({ min: 1, max: 45 }), fc.constant('*'))),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((ranges) => ranges.map(([a, b]) => (b === null ? `${a}` : `${a}:${b}`)).join(','));

/**
 * Runs the property: `commands(modseq, sets)` (modseq: the mailbox's before the last changes;
 * sets: random sequence sets) on both paths; `check` then sees the columns' answers and the
 * UIDs left after every expunge.
 */
export async function columnsMatchRecords(
  env: ImapTestEnv,
  commands: (modseq: number, sets: string[]) => string[],
  check?: (columns: string[][], left: Set<number>) => void,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.subarray(FLAGS), { minLength: 1, maxLength: 40 }),
      fc.array(fc.nat({ max: 39 }), { maxLength: 10 }),
      fc.nat({ max: 39 }),
      fc.array(sequenceSet, { minLength: 2, maxLength: 2 }),
      fc.nat({ max: 2 }),
      async (flagLists, expunge, goneLater, sets, added) => {
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
        const [c1, c2, other] = [await env.login(), await env.login(), await env.login()];
        try {
          // EXAMINE: neither takes \Recent (RFC 3501 §6.3.2), so both see it the same.
          await c1.cmd('s', `EXAMINE ${name}`);
          await c2.cmd('s', `EXAMINE ${name}`);
          // Expunged by someone else now: the views still number it, the columns lack it.
          await store.expunge(mb.id, { uids: [goneLater + 1], onlyDeleted: false });
          await store.setFlags(mb.id, [1, 2, 3], 'add', ['$Changed']);
          // Another IMAP session changes flags, expunges and appends: not yet announced to
          // either view (the first command of each announces the same EXISTS and FETCH).
          await other.cmd('o', `SELECT ${name}`);
          await other.cmd('o', 'UID STORE 4:6 -FLAGS.SILENT (\\Seen)');
          await other.cmd('o', `UID STORE ${flagLists.length} +FLAGS.SILENT (\\Deleted)`);
          await other.cmd('o', `UID EXPUNGE ${flagLists.length}`);
          for (let i = 0; i < added; i++)
            await append(other, name, message(`c${box}-new${i}`), i === 0 ? '\\Flagged' : '');
          const list = commands(modseq, sets);
          const answer = async (c: RawClient) => {
            const out: string[][] = [];
            for (const cmd of list) out.push(await c.cmd('f', cmd));
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
          const left = new Set(Array.from({ length: flagLists.length }, (_, i) => i + 1));
          for (const u of [...gone, goneLater + 1, flagLists.length]) left.delete(u);
          check?.(columns, left);
        } finally {
          c1.close();
          c2.close();
          other.close();
        }
      },
    ),
    { numRuns: 12 },
  );
}
