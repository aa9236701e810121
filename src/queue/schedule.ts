// When to try a deferred message again, and when to give up. Postfix starts at 5 minutes and
// doubles up to about an hour; the issue asks for a schedule the operator can set that lasts
// 5 days by default (RFC 5321 §4.5.4.1: "the give-up time generally needs to be at least
// 4-5 days", the retry interval "at least 30 minutes" once the first tries failed).

export interface RetryPolicy {
  /** Waits after the 1st, 2nd, ... failed attempt; the last one repeats. Milliseconds. */
  schedule: readonly number[];
  /** A message still undelivered this long after it was queued is bounced (4.4.7). */
  maxAgeMs: number;
  /** A delay notice (RFC 3461 NOTIFY=DELAY) once a message has waited this long. */
  delayNoticeMs: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const DEFAULT_RETRY: RetryPolicy = {
  schedule: [5, 10, 20, 40, 60, 120, 240].map((m) => m * MINUTE),
  maxAgeMs: 5 * 24 * HOUR,
  delayNoticeMs: 4 * HOUR,
};

/**
 * The next attempt after `attempts` failed ones (1 = the first failed), never past the
 * give-up time: the last try is made at `createdAt + maxAgeMs`, so a message is bounced on
 * time rather than up to a whole interval late.
 */
export function nextAttempt(
  policy: RetryPolicy,
  attempts: number,
  createdAt: Date,
  now: Date,
): Date {
  const i = Math.min(Math.max(attempts, 1), policy.schedule.length) - 1;
  const wait = policy.schedule[i] ?? 5 * MINUTE;
  const at = now.getTime() + wait;
  const giveUp = createdAt.getTime() + policy.maxAgeMs;
  return new Date(Math.min(at, Math.max(giveUp, now.getTime())));
}

/** True once the message is too old to try again. */
export function expired(policy: RetryPolicy, createdAt: Date, now: Date): boolean {
  return now.getTime() - createdAt.getTime() >= policy.maxAgeMs;
}
