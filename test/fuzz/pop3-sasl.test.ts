// Fuzzing of the POP3 command lines, RETR/TOP dot-stuffing, and the SASL mechanisms of all three protocols.
// Budget and replay: see lib/harness.ts (FUZZ_SCALE, FUZZ_SEED, FUZZ_PATH).
import { test } from 'node:test';
import { fuzz } from './lib/harness.js';
import { POP3_SASL_TARGETS } from './targets/pop3-sasl.js';

for (const target of POP3_SASL_TARGETS) {
  test(`fuzz: ${target.name}`, { todo: target.todo }, async (t) => {
    const r = await fuzz(target);
    t.diagnostic(
      `${r.runs} inputs (seed ${r.seed}), slowest steps ${r.slowestMs.map((ms) => ms.toFixed(1)).join(', ')} ms`,
    );
  });
}
