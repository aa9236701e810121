// Fuzzing of the HTTP listener with raw requests on real sockets (in-process).
// Budget and replay: see lib/harness.ts (FUZZ_SCALE, FUZZ_SEED, FUZZ_PATH).
import { test } from 'node:test';
import { fuzz } from './lib/harness.js';
import { httpRequests } from './targets/http.js';

test(`fuzz: ${httpRequests.name}`, async (t) => {
  const r = await fuzz(httpRequests);
  t.diagnostic(`${r.runs} requests (seed ${r.seed})`);
});
