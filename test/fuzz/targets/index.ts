// Every fuzz target, for bench/fuzz (the tests run them file by file).
import type { AnyTarget } from '../lib/harness.js';
import { erase } from '../lib/harness.js';
import { httpRequests } from './http.js';
import { IMAP_TARGETS } from './imap.js';
import { MIME_TARGETS } from './mime.js';
import { OUTBOUND_TARGETS } from './outbound.js';
import { POP3_SASL_TARGETS } from './pop3-sasl.js';
import { imapSessions, pop3Sessions, smtpSessions, submissionSessions } from './sessions.js';
import { SMTP_TARGETS } from './smtp.js';

export const ALL_TARGETS: readonly AnyTarget[] = [
  ...IMAP_TARGETS,
  ...SMTP_TARGETS,
  ...POP3_SASL_TARGETS,
  ...MIME_TARGETS,
  ...OUTBOUND_TARGETS,
  erase(httpRequests),
  erase(imapSessions),
  erase(smtpSessions),
  erase(submissionSessions),
  erase(pop3Sessions),
];
