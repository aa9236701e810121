// TRANSACTION state commands (RFC 1939 §5 and §7): STAT, LIST, UIDL, RETR, TOP, DELE, RSET,
// NOOP. Message numbers refer to the maildrop snapshot taken at login.
import { isStoreError } from '../../store/errors.js';
import { dotStuffed, topOf } from '../dotstuff.js';
import { WRITE_CHUNK } from '../limits.js';
import type { DropMessage } from '../maildrop.js';
import type { Pop3Session } from '../session.js';
import { parseNumber, TERMINATOR } from '../wire.js';
import type { CommandSpec } from './types.js';

const TRANSACTION = ['transaction'] as const;

/**
 * The message named by `arg`, or null after answering -ERR. RFC 1939 §5: a message marked
 * deleted may not be referred to ("-ERR message 2 already deleted" in its examples).
 */
function messageArg(
  s: Pop3Session,
  arg: string | undefined,
): { n: number; message: DropMessage } | null {
  const n = parseNumber(arg);
  if (n === null) {
    s.fail('Invalid message number');
    return null;
  }
  const found = s.transaction().drop.lookup(n);
  if (found.ok) return { n, message: found.message };
  s.err(found.reason === 'deleted' ? `Message ${n} already deleted` : 'No such message');
  return null;
}

export const STAT: CommandSpec = {
  states: TRANSACTION,
  run(s) {
    // RFC 1939 §5: "+OK nn mm", messages and octets not marked deleted.
    const { count, size } = s.transaction().drop.stat();
    s.ok(`${count} ${size}`);
  },
};

/** LIST and UIDL: one line per message, or a scan listing of them all. */
function listing(field: (s: Pop3Session, m: DropMessage) => string): CommandSpec {
  return {
    states: TRANSACTION,
    async run(s, cmd) {
      if (cmd.args.length > 1) {
        s.fail('Too many arguments');
        return;
      }
      if (cmd.args.length === 1) {
        const found = messageArg(s, cmd.args[0]);
        if (found) s.ok(`${found.n} ${field(s, found.message)}`);
        return;
      }
      const drop = s.transaction().drop;
      const { count, size } = drop.stat();
      s.ok(`${count} messages (${size} octets)`);
      for (const [n, m] of drop.live()) await s.send(Buffer.from(`${n} ${field(s, m)}\r\n`));
      await s.send(TERMINATOR);
    },
  };
}

export const LIST = listing((_s, m) => String(m.size));
// RFC 1939 §7 UIDL; see Maildrop.uniqueId for why the value is stable.
export const UIDL = listing((s, m) => s.transaction().drop.uniqueId(m));

/**
 * The stored bytes of a message, read before "+OK" is sent so that a failure can still be
 * answered with -ERR. null after answering.
 */
async function readBytes(s: Pop3Session, m: DropMessage): Promise<Buffer | null> {
  try {
    return await s.opts.backend.readMessage(m.blobHash, m.size);
  } catch (err) {
    if (isStoreError(err, 'NOT_FOUND')) {
      // Expunged over IMAP since login, and its blob collected.
      s.err('Message was removed by another session');
    } else {
      s.log.error({ err, uid: m.uid }, 'cannot read message');
      s.err('Cannot read message, try again later', 'SYS/TEMP');
    }
    return null;
  }
}

/** Stream a multi-line body; Connection.write holds us back while the client is slow. */
async function sendBody(s: Pop3Session, data: Buffer): Promise<void> {
  for (const piece of dotStuffed(data, WRITE_CHUNK)) await s.send(piece);
}

export const RETR: CommandSpec = {
  states: TRANSACTION,
  async run(s, cmd) {
    if (cmd.args.length !== 1) {
      s.fail('Syntax: RETR msg');
      return;
    }
    const m = messageArg(s, cmd.args[0])?.message;
    if (!m) return;
    const data = await readBytes(s, m);
    if (!data) return;
    s.ok(`${data.length} octets`);
    await sendBody(s, data);
    // Retrieved means read: IMAP clients see \Seen. Marked in batches (one commit for a
    // pipelined run of RETRs) when the client's input is drained, before QUIT, or at the end.
    s.noteSeen(m.uid);
  },
};

export const TOP: CommandSpec = {
  states: TRANSACTION,
  async run(s, cmd) {
    // RFC 1939 §7: TOP msg n, n a non-negative number of body lines.
    const lines = parseNumber(cmd.args[1]);
    if (cmd.args.length !== 2 || lines === null) {
      s.fail('Syntax: TOP msg n');
      return;
    }
    const m = messageArg(s, cmd.args[0])?.message;
    if (!m) return;
    const data = await readBytes(s, m);
    if (!data) return;
    s.ok('Top of message follows');
    await sendBody(s, topOf(data, lines));
  },
};

export const DELE: CommandSpec = {
  states: TRANSACTION,
  run(s, cmd) {
    if (cmd.args.length !== 1) {
      s.fail('Syntax: DELE msg');
      return;
    }
    const found = messageArg(s, cmd.args[0]);
    if (!found) return;
    // RFC 1939 §5: only marked now; removed at QUIT (UPDATE state) if the session gets there.
    s.transaction().drop.markDeleted(found.n);
    s.ok(`Message ${found.n} deleted`);
  },
};

export const RSET: CommandSpec = {
  states: TRANSACTION,
  run(s) {
    const drop = s.transaction().drop;
    drop.reset();
    // Retrieved messages that were marked deleted waited for QUIT to be marked \Seen.
    s.armSeen();
    const { count, size } = drop.stat();
    s.ok(`Maildrop has ${count} messages (${size} octets)`);
  },
};

export const NOOP: CommandSpec = {
  states: TRANSACTION,
  run(s) {
    s.ok();
  },
};
