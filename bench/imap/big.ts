// IMAP bench (b): one very large mailbox (100,000 messages by default). Each timing is from the
// command's write to its tagged OK, with every untagged byte read by the client.

import { RARE_WORD } from '../lib/corpus.js';
import { expectOk, ImapClient } from '../lib/imap-client.js';

export interface BigResult {
  /** Median over `rounds`, in ms. */
  selectMs: number;
  fetchFlagsMs: number;
  searchBodyMs: number;
  /** First round alone (colder caches), in ms. */
  firstSelectMs: number;
  firstFetchFlagsMs: number;
  firstSearchBodyMs: number;
  exists: number;
  fetched: number;
  matches: number;
  /** Every round's SELECT, UID FETCH and SEARCH BODY times, in ms. */
  rounds: { selectMs: number; fetchFlagsMs: number; searchBodyMs: number }[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function runBig(opts: {
  port: number;
  user: string;
  password: string;
  rounds: number;
  /** Called right before each timed command is written. */
  beforeStep?: () => void;
  /** Called once each timed command's tagged OK was read (`select`, `fetch`, `search`). */
  onStep?: (step: 'select' | 'fetch' | 'search', round: number) => void;
}): Promise<BigResult> {
  const sel: number[] = [];
  const fetch: number[] = [];
  const search: number[] = [];
  let exists = 0;
  let fetched = 0;
  let matches = 0;
  for (let round = 0; round < opts.rounds; round++) {
    // A new connection per round: a client opening the mailbox, not one re-reading it.
    const c = await ImapClient.login('127.0.0.1', opts.port, opts.user, opts.password);
    opts.beforeStep?.();
    let t = performance.now();
    const s = expectOk(await c.command('SELECT INBOX'), 'SELECT');
    sel.push(performance.now() - t);
    opts.onStep?.('select', round);
    exists = Number(s.untagged.map((l) => /^\* (\d+) EXISTS/i.exec(l)?.[1]).find((x) => x) ?? 0);

    let count = 0;
    c.onUntagged = (line) => {
      if (/^\* \d+ FETCH/i.test(line)) count++;
    };
    opts.beforeStep?.();
    t = performance.now();
    expectOk(await c.command('UID FETCH 1:* (UID FLAGS)', { keep: false }), 'UID FETCH');
    fetch.push(performance.now() - t);
    opts.onStep?.('fetch', round);
    fetched = count;
    c.onUntagged = null;

    opts.beforeStep?.();
    t = performance.now();
    const r = expectOk(await c.command(`SEARCH BODY ${RARE_WORD}`), 'SEARCH BODY');
    search.push(performance.now() - t);
    opts.onStep?.('search', round);
    const line = r.untagged.find((l) => /^\* SEARCH/i.test(l)) ?? '* SEARCH';
    matches = line.trim().split(' ').length - 2;
    await c.logout();
  }
  return {
    selectMs: median(sel),
    fetchFlagsMs: median(fetch),
    searchBodyMs: median(search),
    firstSelectMs: sel[0]!,
    firstFetchFlagsMs: fetch[0]!,
    firstSearchBodyMs: search[0]!,
    exists,
    fetched,
    matches,
    rounds: sel.map((selectMs, i) => ({
      selectMs,
      fetchFlagsMs: fetch[i]!,
      searchBodyMs: search[i]!,
    })),
  };
}
