// Trace and identity header fields the server adds: Received and Return-Path (RFC 5321 §4.4,
// with RFC 3848 protocol names), Message-ID and Date (RFC 6409 §8.3, §8.2).
import { randomHex } from '../random-hex.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** RFC 5322 §3.3 date-time, in UTC. */
export function rfc5322Date(d: Date = new Date()): string {
  return (
    `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
  );
}

/** RFC 3848 (and RFC 6531 §3.7.3 for SMTPUTF8) "with" protocol names. */
export function withProtocol(opts: {
  esmtp: boolean;
  tls: boolean;
  auth: boolean;
  utf8: boolean;
}): string {
  if (!opts.esmtp) return 'SMTP';
  const base = opts.utf8 ? 'UTF8SMTP' : 'ESMTP';
  return `${base}${opts.tls ? 'S' : ''}${opts.auth ? 'A' : ''}`;
}

/** Keeps client-chosen words from breaking the header: printable, no parentheses. */
function clean(s: string): string {
  return s.replace(/[^\x21-\x7e]|[()\\]/g, '?').slice(0, 255);
}

export interface ReceivedInput {
  /** The peer; absent for a message this server made (a DSN): `by` alone, as Postfix does. */
  helo?: string;
  ip?: string;
  hostname: string;
  /** RFC 3848 `with` protocol name (withProtocol); with the peer only. */
  protocol?: string;
  id: string;
  /** Named only when there is exactly one recipient, so a Bcc list is not disclosed. */
  recipient?: string;
  tlsCipher?: string;
  date?: Date;
}

export function receivedHeader(r: ReceivedInput): string {
  const tls = r.tlsCipher ? `\r\n\t(using ${clean(r.tlsCipher)})` : '';
  const forPart = r.recipient ? `\r\n\tfor <${clean(r.recipient)}>` : '';
  const tail = `id ${r.id}${tls}${forPart};\r\n\t${rfc5322Date(r.date)}\r\n`;
  if (r.ip === undefined) return `Received: by ${r.hostname} (Letterbox) ${tail}`;
  const ip = r.ip.includes(':') ? `IPv6:${r.ip}` : r.ip;
  return (
    `Received: from ${clean(r.helo ?? 'unknown')} ([${ip}])\r\n\tby ${r.hostname} (Letterbox) ` +
    `with ${r.protocol ?? 'SMTP'} ${tail}`
  );
}

/** RFC 5321 §4.4: the delivering server records the envelope sender in Return-Path. */
export function returnPathField(sender: string): string {
  return `Return-Path: <${sender}>\r\n`;
}

/** A short id for a delivery: in the logs, the Received field and the SMTP reply. */
export function newDeliveryId(): string {
  return randomHex(8).toUpperCase();
}

export function newMessageId(hostname: string): string {
  return `<${Date.now().toString(36)}.${randomHex(9)}@${hostname}>`;
}
