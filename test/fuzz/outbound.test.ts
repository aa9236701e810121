// Fuzzing of the sending side and submission: remote SMTP replies, From/Sender check, MTA-STS, SRS, 8BITMIME downgrade.
// Budget and replay: see lib/harness.ts (FUZZ_SCALE, FUZZ_SEED, FUZZ_PATH).
import { test } from 'node:test';
import { fuzz } from './lib/harness.js';
import { OUTBOUND_TARGETS } from './targets/outbound.js';

for (const target of OUTBOUND_TARGETS) {
  test(`fuzz: ${target.name}`, { todo: target.todo }, async (t) => {
    const r = await fuzz(target);
    t.diagnostic(
      `${r.runs} inputs (seed ${r.seed}), slowest steps ${r.slowestMs.map((ms) => ms.toFixed(1)).join(', ')} ms`,
    );
  });
}
