// Fuzzing of the MIME parser (messages and header values) and the FETCH values built from it.
// Budget and replay: see lib/harness.ts (FUZZ_SCALE, FUZZ_SEED, FUZZ_PATH).
import { test } from 'node:test';
import { fuzz } from './lib/harness.js';
import { MIME_TARGETS } from './targets/mime.js';

for (const target of MIME_TARGETS) {
  test(`fuzz: ${target.name}`, { todo: target.todo }, async (t) => {
    const r = await fuzz(target);
    t.diagnostic(
      `${r.runs} inputs (seed ${r.seed}), slowest steps ${r.slowestMs.map((ms) => ms.toFixed(1)).join(', ')} ms`,
    );
  });
}
