// The listener's shutdown, told to each session: shared with SMTP, in net/shutdown-watch.ts.
export { type ShutdownTarget, unwatchShutdown, watchShutdown } from '../net/shutdown-watch.js';
