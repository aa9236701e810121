// Fuzzing of the IMAP wire: receiver, command and argument parsers, mailbox names, dates.
// Budget and replay: see lib/harness.ts (FUZZ_SCALE, FUZZ_SEED, FUZZ_PATH).
import { test } from 'node:test';
import { fuzz } from './lib/harness.js';
import { IMAP_TARGETS } from './targets/imap.js';

for (const target of IMAP_TARGETS) {
  test(`fuzz: ${target.name}`, { todo: target.todo }, async (t) => {
    const r = await fuzz(target);
    t.diagnostic(
      `${r.runs} inputs (seed ${r.seed}), slowest steps ${r.slowestMs.map((ms) => ms.toFixed(1)).join(', ')} ms`,
    );
  });
}
