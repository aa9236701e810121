/**
 * IMAP dates (RFC 9051 §9):
 *   date-time (APPEND, INTERNALDATE): "17-Jul-1996 02:44:25 -0700"  -> Date (an instant)
 *   date (SEARCH BEFORE/ON/SINCE/SENT*): 1-Feb-1994 or "1-Feb-1994"  -> ImapDate (a calendar day;
 *   RFC 9051 §6.4.4: these keys disregard time and timezone, so no instant is implied).
 * Parsers return null on bad syntax or an impossible date; the caller turns that into BAD.
 */

export interface ImapDate {
  readonly year: number;
  readonly month: number; // 1..12
  readonly day: number; // 1..31
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const MONTH_NAMES = MONTHS.map((m) => m[0] + m.slice(1).toLowerCase());

/** Date.UTC maps years 0-99 to 1900-1999; this does not. */
function utc(year: number, month: number, day: number, h = 0, min = 0, s = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(h, min, s, 0);
  return d.getTime();
}

function daysInMonth(year: number, month: number): number {
  return new Date(utc(year, month + 1, 0)).getUTCDate();
}

// ABNF literal strings are case-insensitive (RFC 5234 §2.3), so `jul` is a month too.
function monthOf(name: string): number {
  return MONTHS.indexOf(name.toUpperCase()) + 1;
}

/** RFC 9051 date-text: date-day "-" date-month "-" date-year, date-day = 1*2DIGIT. */
export function parseDateText(text: string): ImapDate | null {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
  if (!m) return null;
  const day = Number(m[1]);
  const month = monthOf(m[2]);
  const year = Number(m[3]);
  if (month === 0 || day < 1 || day > daysInMonth(year, month)) return null;
  return { year, month, day };
}

/**
 * RFC 9051 date-time without its DQUOTEs: date-day-fixed "-" date-month "-" date-year SP time
 * SP zone. date-day-fixed is (SP DIGIT) / 2DIGIT; a bare single digit is accepted too, as some
 * clients send it.
 */
export function parseDateTimeText(text: string): Date | null {
  return parseZonedDateTimeText(text)?.date ?? null;
}

/**
 * Like parseDateTimeText, with the zone the client wrote (minutes east of UTC): APPEND's
 * INTERNALDATE keeps it, so that FETCH INTERNALDATE shows it and SEARCH BEFORE / ON / SINCE
 * take the day in it (RFC 3501 §6.4.4: "disregarding time and timezone").
 */
export function parseZonedDateTimeText(text: string): { date: Date; zone: number } | null {
  const m =
    /^( \d|\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (!m) return null;
  const date = parseDateText(`${m[1].trim()}-${m[2]}-${m[3]}`);
  if (!date) return null;
  const [h, min, s, zh, zm] = [m[4], m[5], m[6], m[8], m[9]].map(Number);
  if (h > 23 || min > 59 || s > 59 || zm > 59) return null;
  const offset = (m[7] === '-' ? -1 : 1) * (zh * 60 + zm);
  const local = utc(date.year, date.month, date.day, h, min, s);
  return { date: new Date(local - offset * 60_000), zone: offset };
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/**
 * Formats an instant as RFC 9051 date-time content (no DQUOTEs), e.g. `17-Jul-1996 02:44:25
 * +0000`, in the zone `offsetMinutes` east of UTC (0 by default). date-day-fixed pads with a
 * space. Milliseconds are dropped.
 */
export function formatDateTime(date: Date, offsetMinutes = 0): string {
  const t = new Date(Math.floor(date.getTime() / 1000) * 1000 + offsetMinutes * 60_000);
  const day = String(t.getUTCDate()).padStart(2, ' ');
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return (
    `${day}-${MONTH_NAMES[t.getUTCMonth()]}-${String(t.getUTCFullYear()).padStart(4, '0')} ` +
    `${pad2(t.getUTCHours())}:${pad2(t.getUTCMinutes())}:${pad2(t.getUTCSeconds())} ` +
    `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`
  );
}

/** Formats a calendar day as date-text, e.g. `1-Feb-1994`. */
export function formatDate(date: ImapDate): string {
  return `${date.day}-${MONTH_NAMES[date.month - 1]}-${date.year}`;
}
