// Fuzzing of the SMTP wire: line reader, command parser, paths and parameters, DATA and BDAT.
// Budget and replay: see lib/harness.ts (FUZZ_SCALE, FUZZ_SEED, FUZZ_PATH).
import { test } from 'node:test';
import { fuzz } from './lib/harness.js';
import { SMTP_TARGETS } from './targets/smtp.js';

for (const target of SMTP_TARGETS) {
  test(`fuzz: ${target.name}`, { todo: target.todo }, async (t) => {
    const r = await fuzz(target);
    t.diagnostic(
      `${r.runs} inputs (seed ${r.seed}), slowest steps ${r.slowestMs.map((ms) => ms.toFixed(1)).join(', ')} ms`,
    );
  });
}
