// SEARCH's full-text answers against a plain substring test (RFC 9051 §6.4.4): a store of
// Alice's INBOX holding one message per text (UID i + 1 for texts[i]), made before a file's
// tests and removed after them, and the needles whose answer differs from the oracle's.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { FullTextIndexMode } from '../../src/store/types.js';
import { newMessage } from './messages.js';
import { openAliceStore } from './store.js';

type Opened = Awaited<ReturnType<typeof openAliceStore>>;

/**
 * The oracle's case: lower case, a final sigma as sigma (the one mapping that depends on
 * context: "ΟΔΟΣ" alone ends in a final sigma, inside "ΟΔΟΣABC" it does not).
 */
export const oracleFold = (s: string): string => s.toLowerCase().replaceAll('\u03c2', '\u03c3');

/**
 * Registers the hooks; the returned function gives the store once `before` has run. With
 * `on-search` the texts are indexed from the stored bytes at the first search.
 */
export function storeOfTexts(
  prefix: string,
  texts: readonly string[],
  fullTextIndex: FullTextIndexMode = 'on-delivery',
): () => Opened {
  let dir: string | undefined;
  let opened: Opened | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
    opened = await openAliceStore(dir, {
      onFtsError: (err) => assert.fail(`index worker error: ${String(err)}`),
      fullTextIndex,
    });
    for (const [i, t] of texts.entries()) {
      await opened.store.append(newMessage(`m${i}`, t), [{ mailboxId: opened.inbox }]);
    }
  });
  after(async () => {
    await opened?.store.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (opened === undefined) throw new Error('storeOfTexts: the store is made in before()');
    return opened;
  };
}

/** The needles whose searchText answer is not the texts that hold them, as readable lines. */
export async function searchMismatches(
  opened: Opened,
  texts: readonly string[],
  needles: Iterable<string>,
): Promise<string[]> {
  const folded = texts.map(oracleFold);
  const wrong: string[] = [];
  for (const needle of needles) {
    const n = oracleFold(needle);
    const want = folded.flatMap((t, i) => (t.includes(n) ? [i + 1] : []));
    const got = await opened.store.searchText(opened.inbox, needle);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      wrong.push(`${JSON.stringify(needle)}: got [${got}], want [${want}]`);
    }
  }
  return wrong;
}
