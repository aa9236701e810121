// One mail transaction on an open client connection (RFC 5321 §3.3): MAIL, RCPT per recipient,
// then DATA or BDAT, with the extensions the remote offered. Checks that need no wire come
// first (SIZE, SMTPUTF8, 8BITMIME), so a message that cannot go to this server is failed
// without a byte sent. Every recipient ends with an outcome: delivered only after the remote's
// 2xx to the end of the data, failed only on a 5xx, deferred otherwise (4xx, no answer, a
// broken connection: RFC 5321 §4.5.4.1 says try again later).
import { downgrade8bit, has8bit, header8bit } from '../../queue/eightbit.js';
import type {
  RecipientOutcome,
  RemoteReply,
  SendRecipient,
  SendRequest,
} from '../../queue/types.js';
import type { SmtpReply } from '../wire/reply.js';
import { describeReply, toRemoteReply } from '../wire/reply-parser.js';
import { encodeXtext } from '../wire/xtext.js';
import { dotStuff } from './data.js';
import { SmtpClientError } from './errors.js';
import type { ClientTransport } from './transport.js';

/** RFC 5321 §4.5.3.2 timeouts, in milliseconds. */
export interface ClientTimeouts {
  /** TCP connect (and the implicit TLS handshake); RFC 5321 leaves it open. */
  connect: number;
  /** §4.5.3.2.1 initial 220: 5 minutes. */
  greeting: number;
  /** §4.5.3.2.2-3 MAIL and RCPT, also EHLO, STARTTLS, AUTH, RSET, QUIT: 5 minutes. */
  command: number;
  /** §4.5.3.2.4 the 354 to DATA: 2 minutes. */
  dataInit: number;
  /** §4.5.3.2.5 each block of data written (and each non-final BDAT reply): 3 minutes. */
  dataBlock: number;
  /** §4.5.3.2.6 the reply to the end of data (or BDAT LAST): 10 minutes. */
  dataEnd: number;
}

export const DEFAULT_TIMEOUTS: ClientTimeouts = {
  connect: 30_000,
  greeting: 5 * 60_000,
  command: 5 * 60_000,
  dataInit: 2 * 60_000,
  dataBlock: 3 * 60_000,
  dataEnd: 10 * 60_000,
};

/** BDAT chunks are at most this large (RFC 3030 sets no size; one write, one reply each). */
export const BDAT_CHUNK = 1024 * 1024;

export interface TxContext {
  transport: ClientTransport;
  extensions: ReadonlyMap<string, string>;
  timeouts: ClientTimeouts;
  /** "mx.example.org[192.0.2.1]" for diagnostics. */
  where: string;
  /** A previous transaction was left open (MAIL sent, no end of data): RSET first. */
  needsReset: boolean;
  /** Transactions begun on the connection (one that ends clears needsReset only if last). */
  begun: number;
  /** Set when the remote said 421 or the connection failed: do not reuse it. */
  finished: boolean;
}

type Status = RecipientOutcome['status'];

/** One recipient's progress; status null until decided. */
interface Slot {
  rcpt: SendRecipient;
  status: Status | null;
  reply: RemoteReply | null;
  diagnostic: string;
}

/** 2xx: the command succeeded (RFC 5321 §4.2.1). */
function positive(r: SmtpReply): boolean {
  return r.code >= 200 && r.code < 300;
}

/** 2xx delivered, 5xx failed; 4xx (and a 3xx where none belongs) deferred. */
function statusOf(code: number): Status {
  if (code < 300) return 'delivered';
  if (code < 400) return 'deferred';
  return code < 500 ? 'deferred' : 'failed';
}

/** Characters that would break a command line or its path (RFC 5321 §4.1.2 has none of them). */
function badAddress(a: string): boolean {
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (c < 0x21 || c === 0x7f || c === 0x3c || c === 0x3e) return true;
  }
  return a.length > 320;
}

function nonAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return true;
  return false;
}

/**
 * Overlap with the transaction before (RFC 2920 §3.1, with PIPELINING only): `previous`
 * resolves once that transaction has read its last reply; this one may write its commands
 * before then (they follow the previous message's content, "explicitly allowed to be the
 * first command in a group"), and reads its own replies after. `written` is called once
 * this message's content is on the wire (the session can take the next one); the caller
 * calls it at the end otherwise.
 */
export interface Overlap {
  previous: Promise<void>;
  written(): void;
}

export async function runTransaction(
  ctx: TxContext,
  req: SendRequest,
  overlap?: Overlap,
): Promise<RecipientOutcome[]> {
  const slots: Slot[] = req.recipients.map((rcpt) => ({
    rcpt,
    status: null,
    reply: null,
    diagnostic: '',
  }));
  const open = () => slots.filter((s) => s.status === null);
  const decideLocal = (list: Slot[], status: Status, diagnostic: string) => {
    for (const s of list) {
      s.status = status;
      s.diagnostic = diagnostic;
    }
  };
  const decideReply = (list: Slot[], r: SmtpReply, command: string) => {
    const reply = toRemoteReply(r);
    for (const s of list) {
      s.status = statusOf(r.code);
      s.reply = reply;
      s.diagnostic = `${ctx.where} said: ${describeReply(reply)} (in reply to ${command})`;
    }
    if (r.code === 421) ctx.finished = true;
  };
  const result = (): RecipientOutcome[] =>
    slots.map((s) => ({
      address: s.rcpt.address,
      status: s.status ?? 'deferred',
      reply: s.reply,
      diagnostic: s.diagnostic || `4.4.0 ${ctx.where}: no outcome`,
    }));

  // --- Checks before any byte is sent ---------------------------------------------------
  const ext = ctx.extensions;
  if (badAddress(req.sender) && req.sender !== '') {
    decideLocal(slots, 'failed', `5.1.7 the sender address cannot be sent in SMTP`);
    return result();
  }
  for (const s of slots) {
    if (badAddress(s.rcpt.address) || !s.rcpt.address.includes('@')) {
      decideLocal([s], 'failed', `5.1.3 the recipient address cannot be sent in SMTP`);
    }
  }
  // RFC 6531 §3.2: a message with a non-ASCII address or UTF-8 header fields needs SMTPUTF8;
  // to a server without it, it is not sent, and the sender is told with 5.6.7 (RFC 6531 §3.6
  // via RFC 5248's registry entry "Non-ASCII addresses not permitted for that sender/recipient").
  const utf8 =
    nonAscii(req.sender) || slots.some((s) => nonAscii(s.rcpt.address)) || header8bit(req.message);
  if (utf8 && !ext.has('SMTPUTF8')) {
    decideLocal(
      open(),
      'failed',
      `5.6.7 the message needs SMTPUTF8 (non-ASCII addresses or header fields) and ` +
        `${ctx.where} does not offer it (RFC 6531)`,
    );
    return result();
  }
  let message = req.message;
  let eightBit = has8bit(message);
  if (eightBit && !ext.has('8BITMIME') && !utf8) {
    // RFC 6152 §3: convert to 7 bit or return the message as undeliverable.
    const down = downgrade8bit(message);
    if (!down.ok) {
      decideLocal(
        open(),
        'failed',
        `5.6.3 the message has 8-bit content, ${ctx.where} does not offer 8BITMIME, and it ` +
          `cannot be converted: ${down.reason}`,
      );
      return result();
    }
    message = down.message;
    eightBit = false;
  }
  // The exact bytes that go out, so a DKIM signature made here survives (types.ts finalize).
  if (req.finalize) {
    try {
      message = await req.finalize(message);
    } catch (err) {
      decideLocal(open(), 'deferred', `4.7.0 the message could not be signed: ${String(err)}`);
      return result();
    }
  }
  // RFC 1870 §6.1: with the server's fixed maximum known, do not send what exceeds it.
  const sizeLimit = ext.has('SIZE') ? Number.parseInt(ext.get('SIZE') ?? '', 10) : 0;
  if (Number.isSafeInteger(sizeLimit) && sizeLimit > 0 && message.length > sizeLimit) {
    decideLocal(
      open(),
      'failed',
      `5.3.4 the message is ${message.length} octets, more than the ${sizeLimit} ` +
        `${ctx.where} accepts (SIZE)`,
    );
    return result();
  }
  const active = open();
  if (active.length === 0) return result();

  // --- Commands ------------------------------------------------------------------------
  const dsn = ext.has('DSN');
  let mail = `MAIL FROM:<${req.sender}>`;
  if (ext.has('SIZE')) mail += ` SIZE=${message.length}`;
  if (eightBit && ext.has('8BITMIME')) mail += ' BODY=8BITMIME';
  if (utf8) mail += ' SMTPUTF8';
  // RFC 3461 §4.3, §4.4: RET and ENVID only to a server that offers DSN.
  if (dsn && req.ret !== undefined) mail += ` RET=${req.ret}`;
  if (dsn && req.envid !== undefined) mail += ` ENVID=${encodeXtext(req.envid)}`;
  const rcptLine = (r: SendRecipient): string => {
    let line = `RCPT TO:<${r.address}>`;
    if (dsn && r.notify !== undefined) {
      // RFC 3461 §4.1: NEVER alone, or a list of SUCCESS, FAILURE, DELAY.
      line += ` NOTIFY=${r.notify === 'NEVER' ? 'NEVER' : r.notify.join(',')}`;
    }
    if (dsn && r.orcpt !== undefined) {
      // RFC 3461 §4.2: ORCPT=addr-type ";" xtext.
      const semi = r.orcpt.indexOf(';');
      const type = semi > 0 ? r.orcpt.slice(0, semi) : 'rfc822';
      const addr = semi > 0 ? r.orcpt.slice(semi + 1) : r.orcpt;
      line += ` ORCPT=${type};${encodeXtext(addr)}`;
    }
    return `${line}\r\n`;
  };
  const chunking = ext.has('CHUNKING');
  /** RFC 2920: the next transaction may follow this message's content before its reply. */
  const pipelining = ext.has('PIPELINING') && overlap !== undefined;
  const t = ctx.transport;
  const to = ctx.timeouts;
  // Replies come in the order of the commands: the previous transaction's reply to its end
  // of data comes before any of ours.
  let before = overlap?.previous;
  const read = (timeoutMs: number, what: string): Promise<SmtpReply> => {
    if (before === undefined) return t.read(timeoutMs, what);
    const p = before.then(() => t.read(timeoutMs, what));
    before = undefined;
    return p;
  };
  /** The content and its end are written: the session may take the next message. */
  const contentWritten = () => {
    if (pipelining) overlap?.written();
  };
  let phase = 'MAIL FROM';
  try {
    // Our commands join the previous message's content only while it still waits in the
    // socket (the same segment); once it has left, its reply comes first.
    if (before !== undefined && !t.joinable) {
      await before;
      before = undefined;
    }
    // Joining the previous message, its reply is not known yet: whether the server still
    // holds that transaction (a refused end of data, BDAT after every RCPT was refused) is
    // not known either, so an RSET goes first in the group (RFC 2920 §3.1 allows it anywhere).
    const resetInGroup = ctx.needsReset && before !== undefined && ext.has('PIPELINING');
    if (ctx.needsReset && !resetInGroup) {
      phase = 'RSET';
      await t.write('RSET\r\n', to.command);
      const r = await read(to.command, 'RSET');
      if (!positive(r)) {
        throw new SmtpClientError('refused', `RSET refused: ${r}`, { reply: toRemoteReply(r) });
      }
      ctx.needsReset = false;
    }
    // After this point the server has transaction state until it says otherwise.
    ctx.needsReset = true;
    const seq = ++ctx.begun;
    // A refused MAIL decides every recipient; else each refused RCPT decides its own.
    let mailOk = false;
    const onMail = (r: SmtpReply) => {
      mailOk = positive(r);
      if (!mailOk) decideReply(active, r, 'MAIL FROM');
    };
    const onRcpt = (i: number, r: SmtpReply) => {
      if (mailOk && !positive(r)) decideReply([active[i]], r, 'RCPT TO');
    };
    let dataReply: SmtpReply | null = null;
    /** The reply to a BDAT LAST sent in the same write as MAIL and RCPT. */
    let pipelinedEnd: SmtpReply | null = null;
    if (ext.has('PIPELINING')) {
      // RFC 2920 §3.1: MAIL, the RCPTs and DATA go in one write; the replies come in order.
      // RFC 3030 §4.2: BDAT may be pipelined too; a message that fits one chunk goes along
      // (a server that refused every RCPT still reads the chunk, and refuses it: §2).
      const lines = [
        ...(resetInGroup ? ['RSET\r\n'] : []),
        `${mail}\r\n`,
        ...active.map((s) => rcptLine(s.rcpt)),
      ];
      if (!chunking) lines.push('DATA\r\n');
      const oneChunk = chunking && message.length <= BDAT_CHUNK;
      const head = Buffer.from(lines.join(''), 'utf8');
      await t.write(
        oneChunk
          ? Buffer.concat([head, Buffer.from(`BDAT ${message.length} LAST\r\n`), message])
          : head,
        oneChunk ? to.dataBlock : to.command,
        lines.length + (oneChunk ? 1 : 0),
        oneChunk && pipelining,
      );
      if (oneChunk) contentWritten();
      if (resetInGroup) {
        phase = 'RSET';
        const r = await read(to.command, 'RSET');
        if (!positive(r)) {
          throw new SmtpClientError('refused', `RSET refused: ${r}`, { reply: toRemoteReply(r) });
        }
        phase = 'MAIL FROM';
      }
      onMail(await read(to.command, 'MAIL FROM'));
      phase = 'RCPT TO';
      for (let i = 0; i < active.length; i++) onRcpt(i, await read(to.command, 'RCPT TO'));
      if (!chunking) {
        phase = 'DATA';
        dataReply = await read(to.dataInit, 'DATA');
      } else if (oneChunk) {
        phase = 'BDAT';
        pipelinedEnd = await read(to.dataEnd, 'BDAT');
      }
    } else {
      await t.write(`${mail}\r\n`, to.command);
      onMail(await read(to.command, 'MAIL FROM'));
      phase = 'RCPT TO';
      for (let i = 0; mailOk && i < active.length && !ctx.finished; i++) {
        await t.write(rcptLine(active[i].rcpt), to.command);
        onRcpt(i, await read(to.command, 'RCPT TO'));
      }
      if (!chunking && !ctx.finished && open().length > 0) {
        phase = 'DATA';
        await t.write('DATA\r\n', to.command);
        dataReply = await read(to.dataInit, 'DATA');
      }
    }
    const accepted = open();
    if (accepted.length > 0 && (ctx.finished || dataReply?.code === 421)) {
      // RFC 5321 §3.8: after a 421 the server closes; the others are tried again later.
      if (dataReply?.code === 421) decideReply(accepted, dataReply, 'DATA');
      else decideLocal(accepted, 'deferred', `4.4.2 ${ctx.where} closed the session (421)`);
      return result();
    }
    if (accepted.length === 0) {
      // RFC 2920 §3.1: DATA accepted although no recipient was: send the end of data alone.
      if (dataReply?.code === 354) {
        phase = 'end of data';
        await t.write('.\r\n', to.dataBlock);
        await read(to.dataEnd, 'end of data');
      }
      return result();
    }
    let final: SmtpReply;
    if (pipelinedEnd !== null) {
      final = pipelinedEnd;
    } else if (!chunking) {
      if (dataReply === null || dataReply.code !== 354) {
        if (dataReply !== null) decideReply(accepted, dataReply, 'DATA');
        else decideLocal(accepted, 'deferred', `4.4.2 ${ctx.where}: no reply to DATA`);
        return result();
      }
      phase = 'sending the message';
      await t.write(dotStuff(message), to.dataBlock, 1, pipelining);
      contentWritten();
      phase = 'end of data';
      final = await read(to.dataEnd, 'end of data');
    } else {
      // RFC 3030 §2: BDAT <size> [LAST], then exactly that many octets; one reply each.
      phase = 'BDAT';
      let pos = 0;
      for (;;) {
        const end = Math.min(message.length, pos + BDAT_CHUNK);
        const last = end === message.length;
        const head = Buffer.from(`BDAT ${end - pos}${last ? ' LAST' : ''}\r\n`, 'latin1');
        await t.write(
          Buffer.concat([head, message.subarray(pos, end)]),
          to.dataBlock,
          1,
          last && pipelining,
        );
        if (last) contentWritten();
        const r = await read(last ? to.dataEnd : to.dataBlock, 'BDAT');
        if (last) {
          final = r;
          break;
        }
        if (!positive(r)) {
          decideReply(accepted, r, 'BDAT');
          return result();
        }
        pos = end;
      }
    }
    decideReply(accepted, final, 'end of data');
    // A transaction pipelined behind this one has begun its own meanwhile: its state stands.
    if (positive(final) && ctx.begun === seq) ctx.needsReset = false;
    return result();
  } catch (err) {
    if (!(err instanceof SmtpClientError)) throw err;
    ctx.finished = true;
    t.close();
    const code = err.kind === 'protocol' ? '4.5.0' : '4.4.2';
    decideLocal(open(), 'deferred', `${code} ${ctx.where}: ${err.message} (while ${phase})`);
    return result();
  }
}
