// Replies formatted once per set of configuration values instead of once per connection.
import { formatReply, type SmtpReply } from './wire/reply.js';

/**
 * Wire forms of the replies that depend on configuration only (greeting, EHLO, HELO), each
 * kept with the values it was made from, so that they are formatted once, not for every
 * connection. The values are compared with === (the configuration's own strings, numbers and
 * booleans): finding one builds no key string and hashes nothing. A few entries per memo
 * (EHLO before and after STARTTLS, with and without AUTH); a reloaded configuration's values
 * make new ones and push the oldest out.
 */
const WIRE_MEMO_MAX = 8;

export class WireMemo<A, B = undefined, C = undefined, D = undefined> {
  private readonly entries: { a: A; b: B; c: C; d: D; wire: Buffer }[] = [];

  constructor(private readonly make: (a: A, b: B, c: C, d: D) => SmtpReply) {}

  wire(a: A, b: B, c: C, d: D): Buffer {
    for (const e of this.entries)
      if (e.a === a && e.b === b && e.c === c && e.d === d) return e.wire;
    const wire = formatReply(this.make(a, b, c, d));
    if (this.entries.length >= WIRE_MEMO_MAX) this.entries.shift();
    this.entries.push({ a, b, c, d, wire });
    return wire;
  }
}
