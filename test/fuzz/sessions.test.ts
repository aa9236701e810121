// Fuzzing of whole sessions: mutated command streams on raw sockets against the real server
// (IMAP, SMTP MX and submission, POP3), before and after login.
// Budget and replay: see lib/harness.ts (FUZZ_SCALE, FUZZ_SEED, FUZZ_PATH).
import { after, before, test } from 'node:test';
import { fuzz } from './lib/harness.js';
import {
  acquire,
  imapSessions,
  pop3Sessions,
  release,
  smtpSessions,
  submissionSessions,
} from './targets/sessions.js';

before(acquire);
after(release);

for (const target of [imapSessions, smtpSessions, submissionSessions, pop3Sessions]) {
  test(`fuzz: ${target.name}`, async (t) => {
    const r = await fuzz(target);
    t.diagnostic(`${r.runs} sessions (seed ${r.seed})`);
  });
}
